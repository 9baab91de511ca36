import ArgumentParser
import Foundation
import NIOHTTP1
import SerinEmbedded
import SerinServer
import SerinManifests

/// `serin apply`: the seed's "edit the weights and kubectl apply" loop, against a running gateway.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or replace resources on a running gateway, live, and report what changed like kubectl.",
        discussion: """
            Example: serin apply -f examples/seed/steps/web-gateway-virtualservice-90-10.yaml
            prints `gateway/web-gateway unchanged` and `virtualservice/web-virtualservice configured`.
            Nothing changes unless the resulting configuration validates as a whole.
            """
    )

    @OptionGroup var manifests: ManifestOptions

    @OptionGroup var server: ServerOption

    func run() async throws {
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        for diagnostic in loaded.diagnostics { Terminal.err(diagnostic.description) }
        if loaded.diagnostics.containsErrors { throw ExitCode(1) }
        let body = try JSONEncoder().encode(ApplyRequest(sources: loaded.sources))
        let response: AdminClient.Response
        do {
            response = try await server.client.send(.POST, "/apply", json: body)
        } catch {
            Terminal.err("error: \(error)")
            throw ExitCode(1)
        }
        guard let report = try? JSONDecoder().decode(ApplyReport.self, from: response.body) else {
            Terminal.err(server.client.failure(response, path: "/apply"))
            throw ExitCode(1)
        }
        for line in report.results { Terminal.out(line) }
        for line in report.diagnostics { Terminal.err(line) }
        if !report.applied {
            Terminal.err("error: nothing applied")
            throw ExitCode(1)
        }
    }
}
