import ArgumentParser

/// `serin`: automated canary releases on Serin's own gateway, from Istio's YAML.
public struct SerinCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serin",
        abstract: "Canary releases, automated: Istio's Gateway and VirtualService, served by Serin's own gateway.",
        discussion: """
            Start with `serin demo`: it runs the seed's canary release (v1 → 90/10 → v2) on this machine.
            Then `serin gateway -f examples/seed` serves your manifests, `serin apply -f FILE` changes them live,
            `serin route` explains a routing decision and `serin validate` checks manifests.
            """,
        subcommands: [
            DemoCommand.self, GatewayCommand.self, ApplyCommand.self, ValidateCommand.self, RouteCommand.self,
            DemoAppCommand.self,
        ]
    )

    public init() {}
}
