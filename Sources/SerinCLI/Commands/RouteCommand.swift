import ArgumentParser
import SerinCore
import SerinGateway
import SerinManifests

/// `serin route`: which VirtualService route a request would take, and where it could go — nothing is sent.
struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Explain which route a request would take and what the gateway would do with it, without sending it.",
        discussion: """
            Prints the route and the match that took the request; then what the route does besides forwarding: a \
            direct response or redirect (nothing forwarded), a fault (abort or delay), a rewrite, header changes, \
            the timeout, the retries, the mirror and stickiness; then the weighted destinations and their endpoints. \
            On a PASSTHROUGH port it explains a TLS connection instead: which server and tls route its server name \
            (--sni) takes, and the destinations it is passed through to.
            """
    )

    @OptionGroup var manifests: ManifestOptions

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

    @Option(help: "The ClientHello's server name, for a connection to a PASSTHROUGH port (default: --host there).")
    var sni: String?

    @Flag(help: "Route as the mesh's sidecars do (serin up|gateway --mesh): by host and service port, with the VirtualServices bound to the mesh.")
    var mesh = false

    func validate() throws {
        for header in headers where !header.contains("=") {
            throw ValidationError("--header takes name=value, got \"\(header)\"")
        }
        // A method is a token (RFC 9110 §9.1): one word of letters, digits and !#$%&'*+-.^_`|~.
        let tokenCharacters = Set("!#$%&'*+-.^_`|~")
        if method.isEmpty || !method.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || tokenCharacters.contains($0) }) {
            throw ValidationError("--method takes one word, such as GET or POST, got \"\(method)\"")
        }
    }

    func run() throws {
        let (set, _, loadErrors) = manifests.load(servingMesh: mesh)
        if set.hasErrors || loadErrors > 0 { throw ExitCode(1) }
        let fields = headers.map { header in
            let parts = header.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]))
        }
        let headerList = HeaderList(fields.map { ($0.0.lowercased(), $0.1) })
        let authority = mesh && !host.contains(":") ? "\(host):\(port)" : host
        let request = RequestAttributes(method: method.uppercased(), target: path, authority: authority, headers: headerList)
        let table = RouteTable(compiling: set.config)
        if !mesh, sni != nil || (table.passthrough[port] != nil && table.listeners[port] == nil) {
            return try explainPassthrough(table, serverName: sni ?? host)
        }
        if mesh {
            Terminal.out("request: \(request.method) \(path) host \"\(authority)\" through the mesh")
        } else {
            Terminal.out("request: \(request.method) \(path) host \"\(host)\" port \(port)")
        }
        if let refusal = RequestHeadCheck.refusal(method: request.method, target: path, authority: authority, fields: fields) {
            Terminal.out("result:  \(refusal.status), \(refusal.reason) (the gateway answers before any route)")
            throw ExitCode(1)
        }
        let port = mesh ? (request.port ?? 80) : self.port
        switch mesh ? table.resolveMesh(request) : table.resolve(request, port: port) {
        case .noRoute(let reason):
            Terminal.out("result:  404, \(reason)")
            throw ExitCode(1)
        case .route(let route):
            Terminal.out("route:   \(route.label)")
            // In the mesh, a match's `mesh` (in whatever namespace it was written) admits the request.
            let admitting = mesh
                ? Set(route.matches.flatMap(\.gateways).filter { $0.name == ResourceName.mesh.name })
                : Set(table.listeners[port]?.servers.map(\.gateway) ?? [])
            if let matched = route.matches.firstIndex(where: { $0.matches(request, gateways: admitting, port: port) }) {
                Terminal.out("match:   [\(matched)] \(RouteTableDocument.RouteDocument.describe(route.matches[matched]))")
            } else {
                Terminal.out("match:   any request (the route has no match conditions)")
            }
            if let answer = RouteExplanation.localAnswer(route.policy) {
                Terminal.out("result:  \(answer)")
                return
            }
            for (label, text) in RouteExplanation.steps(route.policy, stickiness: route.stickiness) {
                Terminal.out("\(label + ":")\(String(repeating: " ", count: max(1, 9 - label.count - 1)))\(text)")
            }
            Self.printDestinations(of: route, withoutEndpoints: "503")
        }
    }

    /// The route's weighted destinations and their endpoints; `withoutEndpoints` says what a destination with none
    /// does to traffic.
    static func printDestinations(of route: RouteTable.Route, withoutEndpoints: String) {
        Terminal.out("destinations:")
        for destination in RouteTableDocument.RouteDocument(route).destinations {
            let endpoints = destination.endpoints.isEmpty ? "no endpoints: \(withoutEndpoints)" : destination.endpoints.joined(separator: ", ")
            let subset = destination.subset.map { " subset \($0)" } ?? ""
            Terminal.out("  \(String(destination.weight).leftPadded(to: 3))%  \(destination.host)\(subset):\(destination.port) → \(endpoints)")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
