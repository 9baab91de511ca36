import ArgumentParser
import Foundation
import NIOHTTP1
import NIOPosix
import SerinHTTP
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

    @Option(help: ArgumentHelp("The gateway's admin endpoint.", valueName: "url"))
    var server: String = "http://127.0.0.1:9900"

    func validate() throws {
        if HostPort.parse(url: server) == nil {
            throw ValidationError("--server takes http://HOST:PORT, got \"\(server)\"")
        }
    }

    func run() async throws {
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        for diagnostic in loaded.diagnostics { Terminal.err(diagnostic.description) }
        if loaded.diagnostics.containsErrors { throw ExitCode(1) }
        let target = HostPort.parse(url: server)!
        let body = try JSONEncoder().encode(ApplyRequest(sources: loaded.sources))
        let response: SimpleResponse
        do {
            let client = try await SimpleHTTPClient.connect(host: target.host, port: target.port, group: MultiThreadedEventLoopGroup.singleton)
            response = try await client.send(.POST, "/apply", headers: [("content-type", "application/json")], body: Array(body))
            await client.close()
        } catch {
            Terminal.err("error: cannot reach the gateway's admin endpoint at \(server): \(error) (is `serin gateway` running? choose it with --server URL)")
            throw ExitCode(1)
        }
        guard let report = try? JSONDecoder().decode(ApplyReport.self, from: Data(response.body)) else {
            Terminal.err("error: \(server)/apply answered \(response.status): \(response.bodyText)")
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
