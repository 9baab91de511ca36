import ArgumentParser
import SerinServer

/// `serin`: automated canary releases on Serin's own gateway, from Istio's YAML.
public struct SerinCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serin",
        abstract: "Canary releases, automated: Istio's Gateway and VirtualService, served by Serin's own gateway.",
        discussion: """
            Start with `serin demo`: the seed's canary release, automated, on this machine.

            `serin up -f DIR` serves manifests and runs their Canary resources; `serin status`, `promote`, \
            `abort`, `pause`, `resume`, `rollout` and `history` steer them. `serin gateway` serves routes only, \
            `serin apply -f FILE` changes them live, `serin route` explains a routing decision and \
            `serin validate` checks manifests.
            """,
        version: "serin \(SerinVersion.description)",
        subcommands: [
            DemoCommand.self, UpCommand.self, ControllerCommand.self, StatusCommand.self, PromoteCommand.self, AbortCommand.self,
            PauseCommand.self, ResumeCommand.self, RolloutAgainCommand.self, HistoryCommand.self,
            GatewayCommand.self, ApplyCommand.self, ValidateCommand.self, RouteCommand.self, SimulateCommand.self, DemoAppCommand.self,
        ]
    )

    public init() {}
}
