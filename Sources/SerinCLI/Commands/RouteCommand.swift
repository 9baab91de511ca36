import ArgumentParser
import Foundation
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinManifests

/// `serin route`: which VirtualService route a request would take, and where it could go — nothing is sent.
struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Explain which route a request would take and what the gateway would do with it, without sending it.",
        discussion: """
            Prints the route and the match that took the request; then what the route does besides forwarding: a \
            direct response or redirect (nothing forwarded), a fault (abort or delay), a rewrite, header changes, \
            the timeout, the retries, the mirror and stickiness; then the weighted destinations and their endpoints. \
            On a PASSTHROUGH port it explains a TLS connection instead: which server and tls route its server name \
            (--sni) takes, and the destinations it is passed through to; on a TCP port (and with --mesh, on a \
            service port a mesh-bound tcp route serves), a plain TCP connection: the tcp route its port takes and \
            the destinations its bytes go to.

            With -f it explains the routes the files hold. Without -f it asks the running Serin (--server) about its \
            live routes: the weights a rollout has set, and the routes A/B testing and sticky canaries add while they run.

            Examples:
              serin route -f examples/seed --host example.com
              serin route --host example.com --header x-canary=insider   (asks serin up)
              serin route -f examples/tcp --port 31400
              serin route -f examples/tcp-mesh --mesh --port 9000
            """
    )

    @OptionGroup var manifests: ManifestPaths

    @OptionGroup var server: ServerOption

    @Option(help: "The request's Host (authority).")
    var host: String = "localhost"

    @Option(help: "The request target: path and optional ?query.")
    var path: String = "/"

    @Option(name: .customLong("header"), help: ArgumentHelp("A request header (repeatable).", valueName: "name=value"))
    var headers: [String] = []

    @Option(help: "The request method.")
    var method: String = "GET"

    @Option(parsing: .unconditional, help: "The Gateway server port the request arrives on; with --mesh, the service port (unless --host names one).")
    var port: Int = 80

    @Option(help: "The ClientHello's server name, for a connection to a PASSTHROUGH port (default: --host there; '' for a ClientHello without one). A TCP port routes by port alone: --port is all it needs.")
    var sni: String?

    @Flag(help: "Route as the mesh's sidecars do (serin up|gateway --mesh): by host and service port, with the VirtualServices bound to the mesh.")
    var mesh = false

    @OptionGroup var meshWorkload: MeshWorkloadOptions

    @OptionGroup var locality: LocalityOption

    func validate() throws {
        for header in headers where !header.contains("=") {
            throw ValidationError("--header takes name=value, got \"\(header)\"")
        }
        // A method is a token (RFC 9110 §9.1): one word of letters, digits and !#$%&'*+-.^_`|~.
        let tokenCharacters = Set("!#$%&'*+-.^_`|~")
        if method.isEmpty || !method.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || tokenCharacters.contains($0) }) {
            throw ValidationError("--method takes one word, such as GET or POST, got \"\(method)\"")
        }
        if !manifests.files.isEmpty, server.server != nil {
            throw ValidationError("give -f (explain the files' routes) or --server (ask a running Serin), not both")
        }
        if meshWorkload.isWritten, !mesh {
            throw ValidationError("--mesh-labels and --mesh-namespace say whose sidecar routes the request: they need --mesh")
        }
        if locality.locality != nil, manifests.files.isEmpty {
            throw ValidationError("--locality goes with -f: a running Serin balances by the locality it was started with (serin gateway --locality)")
        }
        if meshWorkload.isWritten, manifests.files.isEmpty {
            throw ValidationError(
                "--mesh-labels and --mesh-namespace go with -f: a running Serin's mesh listener routes as the workload it was started for (serin gateway --mesh-labels)")
        }
    }

    var question: RouteQuestion {
        let fields = headers.map { header in
            let parts = header.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return RouteQuestion.Header(name: String(parts[0]), value: String(parts[1]))
        }
        return RouteQuestion(method: method, path: path, host: host, port: port, headers: fields, mesh: mesh, sni: sni)
    }

    func run() async throws {
        let answer: RouteAnswer
        if manifests.files.isEmpty {
            answer = try await live()
        } else {
            let (set, _, loadErrors, _) = manifests.load(servingMesh: mesh)
            if set.hasErrors || loadErrors > 0 { throw ExitCode(1) }
            var config = set.config
            config.meshWorkload = meshWorkload.workload
            config.gatewayLocality = locality.locality
            answer = RouteExplanation.answer(question, in: RouteTable(compiling: config))
        }
        for line in answer.lines { Terminal.out(line) }
        if !answer.routed { throw ExitCode(1) }
    }

    /// The running Serin's answer, from its live routing table.
    func live() async throws -> RouteAnswer {
        let client = server.client
        let path = "/route?" + URLQuery.string(question.queryItems)
        let response: AdminClient.Response
        do {
            response = try await client.send(.GET, path)
        } catch let nothing as AdminClient.NoSerinAnswering {
            Terminal.err("error: \(nothing); or explain the routes of files with -f FILE|DIR")
            throw ExitCode(1)
        } catch {
            Terminal.err("error: \(error)")
            throw ExitCode(1)
        }
        if response.status == 200, let answer = try? JSONDecoder().decode(RouteAnswer.self, from: response.body) { return answer }
        if response.status == 404, response.bodyText.contains("not found: /route") {
            Terminal.err("error: \(client.server) runs no gateway (it is `serin controller`): point --server at `serin up` or "
                + "`serin gateway`, or explain the routes of files with -f FILE|DIR")
        } else {
            Terminal.err(client.failure(response, path: path))
        }
        throw ExitCode(1)
    }
}
