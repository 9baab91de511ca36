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
            Nothing changes unless the resulting configuration validates as a whole, and \
            nothing that a route serves now is left with no endpoints (its requests would \
            be answered 503).

            Example: serin apply -f examples/seed/steps/web-gateway-virtualservice-90-10.yaml
            (prints `gateway/web-gateway unchanged` and `virtualservice/web-virtualservice configured`)
            """
    )

    @OptionGroup var manifests: ManifestOptions

    @OptionGroup var server: ServerOption

    func run() async throws {
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        for diagnostic in loaded.diagnostics { Terminal.err(diagnostic.description) }
        if loaded.diagnostics.containsErrors { throw ExitCode(1) }
        // The gateway reads paths inside a manifest (a certificate's) relative to the manifest's directory: sent as
        // the user wrote them, a relative one would be taken from the gateway's working directory, not this one.
        let here = FileManager.default.currentDirectoryPath
        let absolute = loaded.sources.map { source in
            var source = source
            if !source.path.hasPrefix("/") { source.path = URL(fileURLWithPath: source.path, relativeTo: URL(fileURLWithPath: here + "/")).standardizedFileURL.path }
            return source
        }
        // Messages name each file as the user wrote it.
        let written = zip(absolute, loaded.sources).filter { $0.0.path != $0.1.path }.map { ($0.0.path + ":", $0.1.path + ":") }
        let asWritten = { (line: String) in written.reduce(line) { $0.replacingOccurrences(of: $1.0, with: $1.1) } }
        let body = try JSONEncoder().encode(ApplyRequest(sources: absolute))
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
        for line in report.diagnostics { Terminal.err(asWritten(line)) }
        if !report.applied {
            Terminal.err("error: nothing applied")
            throw ExitCode(1)
        }
    }
}
