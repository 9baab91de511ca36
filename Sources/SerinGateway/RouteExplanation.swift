import SerinCore

/// What the gateway would do with a request, in lines a person reads: `serin route` prints them, asked of a table
/// compiled from files or of the running gateway's own (`GET /route`, whose weights are a rollout's and whose routes
/// include those a strategy adds). A route that aborts, redirects or answers by itself never reads as "100% v1".
public enum RouteExplanation {
    /// The lines that explain `question` against `table`, and whether a route took it.
    public static func answer(_ question: RouteQuestion, in table: RouteTable) -> RouteAnswer {
        var lines: [String] = []
        let routed = explain(question, in: table) { lines.append($0) }
        return RouteAnswer(lines: lines, routed: routed)
    }

    private static func explain(_ question: RouteQuestion, in table: RouteTable, say: (String) -> Void) -> Bool {
        let fields = question.headers.map { ($0.name.lowercased(), $0.value) }
        let authority = question.mesh && !question.host.contains(":") ? "\(question.host):\(question.port)" : question.host
        // Routed as the gateway routes it: normalized (`RequestPath`), once the head has passed its checks.
        let normalized = RequestPath.normalized(question.path)
        let request = RequestAttributes(
            method: question.method.uppercased(), target: normalized ?? question.path, authority: authority, headers: HeaderList(fields))
        if !question.mesh, question.sni == nil, table.tcp[question.port] != nil {
            return explainTCP(table, port: question.port, inMesh: false, say: say)
        }
        // The server name `--sni` gives (`''`: a ClientHello that names none).
        let sniName = question.sni.map { $0.isEmpty ? nil : $0 }
        // A CONNECT through the mesh listener opens a tunnel, carried as a connection to that host and port.
        if question.mesh, request.method == "CONNECT", let port = request.port {
            return explainTunnel(table, host: String(request.host), port: port, sni: question.sni, say: say)
        }
        // The mesh's TLS listener for a service port routes by the server name: `--sni`, or the host.
        if question.mesh, let port = request.port, table.meshTLS[port] != nil {
            return explainPassthrough(table, serverName: sniName ?? String(request.host), port: port, inMesh: true, say: say)
        }
        // The mesh's TCP listener for a service port takes every connection to that port, whatever the host.
        if question.mesh, let port = request.port, table.meshTCP[port] != nil {
            return explainTCP(table, port: port, inMesh: true, say: say)
        }
        if !question.mesh, question.sni != nil || (table.passthrough[question.port] != nil && table.listeners[question.port] == nil) {
            let serverName = sniName ?? question.host
            // A name no PASSTHROUGH server lists is terminated by the port's HTTPS server: its request routes by Host.
            let terminated = !table.passesThrough(serverName: serverName, port: question.port) && table.listeners[question.port]?.terminatesTLS == true
            if !terminated { return explainPassthrough(table, serverName: serverName, port: question.port, say: say) }
        }
        // What a client's ClientHello names on an HTTPS port: `--sni`, else the host as curl sends it.
        let handshakeName = sniName ?? String(request.host)
        if question.mesh {
            say("request: \(request.method) \(question.path) host \"\(authority)\" through the mesh")
        } else {
            say("request: \(request.method) \(question.path) host \"\(question.host)\" port \(question.port)")
        }
        if let refusal = RequestHeadCheck.refusal(method: request.method, target: question.path, authority: authority, fields: fields) {
            say("result:  \(refusal.status), \(refusal.reason) (the gateway answers before any route)")
            return false
        }
        if let normalized {
            say("path:    \(normalized) (normalized as Istio's gateway normalizes it: dot segments resolved, unreserved escapes decoded)")
        }
        let port = question.mesh ? (request.port ?? 80) : question.port
        var handshake: RouteTable.ServerBinding?
        if !question.mesh, let listener = table.listeners[port], listener.terminatesTLS {
            let tlsServers = listener.servers.filter { $0.tls != nil }
            let chosen = handshakeName.flatMap { RouteTable.ServerBinding.handshakeServer(forName: $0, among: tlsServers) }
            handshake = tlsServers[chosen ?? 0]
            if let handshake, let tls = handshake.tls {
                say("tls:     \(Self.describe(tls, of: handshake, chosenBy: chosen == nil ? nil : handshakeName))")
            }
        }
        switch question.mesh ? table.resolveMesh(request) : table.resolve(request, port: port, handshake: handshake) {
        case .misdirected(let reason):
            say("result:  421, \(reason)")
            return false
        case .noRoute(let reason):
            say("result:  404, \(reason)")
            // A port from a browser's address bar (8080) where the manifests say 80: the ports there are.
            if !question.mesh, table.listeners[port] == nil, !table.listeners.isEmpty {
                let ports = table.listeners.keys.sorted().map(String.init).joined(separator: ", ")
                say("hint:    Gateway servers listen on port\(table.listeners.count == 1 ? "" : "s") \(ports); --port is the port the Gateway names, before any --port-offset")
            }
            // A service's host asked of the gateway, where only the mesh routes it: how to ask the mesh, at the
            // service's port.
            if !question.mesh {
                let host = question.host.split(separator: ":").first.map(String.init) ?? question.host
                let meshPort = table.mesh.keys.sorted().first { port in
                    let asked = RequestAttributes(method: request.method, target: question.path, authority: "\(host):\(port)", headers: HeaderList(fields))
                    if case .route = table.resolveMesh(asked) { return true }
                    return false
                }
                if let meshPort {
                    say("hint:    the mesh routes \(host):\(meshPort) (VirtualServices without gateways, or with mesh): ask with --mesh --host \(host):\(meshPort), as a client of the mesh listener (serin up|gateway --mesh HOST:PORT) sends it")
                }
            }
            return false
        case .route(let route):
            say("route:   \(route.label)" + (route.delegatedBy.map { ", the delegate of \($0)" } ?? ""))
            let admitting = Self.admitting(route, inMesh: question.mesh, listener: table.listeners[port])
            if let matched = route.matches.firstIndex(where: { $0.matches(request, gateways: admitting, port: port) }) {
                say("match:   [\(matched)] \(RouteTableDocument.RouteDocument.describe(route.matches[matched]))")
            } else {
                say("match:   any request (the route has no match conditions)")
            }
            if !question.mesh, table.listeners[port]?.translatesGRPCWeb == true {
                let contentType = fields.last { $0.0 == "content-type" }?.1
                if let contentType, GRPCWebTranslation.isGRPCWeb(contentType: contentType) {
                    say("grpc-web: translated to gRPC for an HTTP/2 destination, its answer back as gRPC-Web (a GRPC-WEB server's port)")
                } else {
                    say("grpc-web: a request whose content-type is application/grpc-web… is translated to gRPC for an HTTP/2 destination (a GRPC-WEB server's port)")
                }
            }
            if let answer = localAnswer(route.policy) {
                say("result:  \(answer)")
                return true
            }
            for (label, text) in steps(route.policy, stickiness: route.stickiness) {
                say("\(label + ":")\(String(repeating: " ", count: max(1, 9 - label.count - 1)))\(text)")
            }
            destinations(of: route, withoutEndpoints: "503", say: say)
            return true
        }
    }

    /// The handshake an HTTPS port gives a ClientHello naming `name` (nil: naming none the servers list, which gets the
    /// first server's): the server, the certificate it presents, and what it asks of the client.
    static func describe(_ tls: ServerTLS, of server: RouteTable.ServerBinding, chosenBy name: String?) -> String {
        let certificate: String
        let ca: String?
        switch tls.credential {
        case .files(let chain, _, let authority):
            certificate = chain
            ca = authority
        case .secret(let secret, _):
            certificate = "Secret \(secret)"
            ca = "Secret \(secret)"
        }
        let whose = "Gateway \(server.gateway) server (hosts \(server.hosts.map(\.text).joined(separator: ", ")))"
        let why = name.map { "for server name \"\($0)\"" } ?? "(no server lists the name: the port's first)"
        let client: String
        switch tls.mode {
        case .simple: client = "no client certificate asked"
        case .mutual: client = "a client certificate is required, verified against \(ca ?? "its CA certificates")"
        case .optionalMutual: client = "a client certificate is verified against \(ca ?? "its CA certificates") if one is presented"
        }
        return "terminated by \(whose) \(why), \(tls.mode.rawValue): presents \(certificate); \(client)"
    }

    /// A CONNECT to `host:port` through the mesh listener: refused, a tunnel of requests the mesh routes one by one, or
    /// a connection to the port's TCP or TLS listener, explained as one (its server name `sni`, else the host).
    private static func explainTunnel(_ table: RouteTable, host: String, port: Int, sni: String?, say: (String) -> Void) -> Bool {
        say("request: CONNECT \(host):\(port) through the mesh (a tunnel)")
        switch table.meshTunnel(host: host, port: port) {
        case .refused(let reason):
            say("result:  404, \(reason): no tunnel")
            return false
        case .requests:
            say("result:  200 Connection established: the tunnel carries requests, each routed as the mesh routes it "
                + "(ask about one with --host \(host):\(port) and no --method CONNECT)")
            return true
        case .stream where table.meshTLS[port] != nil:
            say("result:  200 Connection established: the tunnel is a connection to the mesh's TLS listener for port \(port)")
            return explainPassthrough(table, serverName: sni.map { $0.isEmpty ? nil : $0 } ?? host, port: port, inMesh: true, say: say)
        case .stream:
            say("result:  200 Connection established: the tunnel is a connection to the mesh's TCP listener for port \(port)")
            return explainTCP(table, port: port, inMesh: true, say: say)
        }
    }

    /// A TLS connection to a PASSTHROUGH port (`inMesh`: to the mesh's listener for a service's TLS port): the server
    /// that admits its server name, the tls route it takes (and by which sniHost), and the destinations it is passed
    /// through to, still encrypted.
    private static func explainPassthrough(_ table: RouteTable, serverName: String?, port: Int, inMesh: Bool = false, say: (String) -> Void) -> Bool {
        let listener = inMesh ? table.meshTLS[port] : table.passthrough[port]
        let named = serverName.map { "server name \"\($0)\"" } ?? "no server name (SNI)"
        let to = inMesh ? "service port \(port) through the mesh" : "port \(port)"
        let route: RouteTable.Route
        switch table.resolvePassthrough(serverName: serverName, port: port, inMesh: inMesh) {
        case .noRoute(let reason), .misdirected(let reason):
            // Closed, not passed through: the line says only what the connection was.
            say("connection: TLS to \(to), \(named)")
            say("result:  connection closed (NR), \(reason)")
            return false
        case .route(let found) where found.section == "tcp":
            // No server name the mesh routes: the port's tcp routes take the connection.
            say("note:    no tls route or service of port \(port) takes \(named); its tcp routes do")
            return explainTCP(table, port: port, inMesh: true, say: say)
        case .route(let found):
            route = found
        }
        // A route means a server name a PASSTHROUGH server (or the mesh) admits.
        let name = serverName ?? ""
        say("connection: TLS to \(to), \(named) (passed through: the destination terminates TLS)")
        if inMesh {
            say("server:  the mesh's TLS listener for port \(port)")
        } else if let server = listener?.servers.first(where: { $0.passesThrough && $0.hosts.contains { $0.matches(name) } }) {
            say("server:  Gateway \(server.gateway) PASSTHROUGH (hosts \(server.hosts.map(\.text).joined(separator: ", ")))")
        }
        say("route:   \(route.label)")
        let sniHost = listener?.virtualHosts.first { host in host.pattern.matches(name) && host.routes.contains { $0 === route } }
        if route.name == RouteTable.directRouteName {
            say("match:   the service's name \(sniHost?.pattern.text ?? name) (its own tls port)")
        } else {
            say("match:   sniHosts \(sniHost?.pattern.text ?? name)" + (sniHost?.pattern.isWildcard == true ? " (wildcard)" : ""))
        }
        destinations(of: route, withoutEndpoints: "connection closed", say: say)
        return true
    }

    /// A plain TCP connection to a TCP port (`inMesh`: to the mesh's TCP listener for a service port): the servers
    /// there, the tcp route it takes (and by which match), and the destinations its bytes are passed on to as they came.
    private static func explainTCP(_ table: RouteTable, port: Int, inMesh: Bool, say: (String) -> Void) -> Bool {
        let listener = inMesh ? table.meshTCP[port] : table.tcp[port]
        let servers = listener?.servers.map(\.gateway.description) ?? []
        let to = inMesh ? "service port \(port) through the mesh" : "port \(port)"
        switch table.resolveTCP(port: port, inMesh: inMesh) {
        case .noRoute(let reason), .misdirected(let reason):
            say("connection: TCP to \(to)")
            say("result:  connection closed (NR), \(reason)")
            return false
        case .route(let route):
            say("connection: TCP to \(to) (plain TCP: routed by port, its bytes passed on as they came)")
            say(inMesh ? "server:  the mesh's TCP listener for port \(port)" : "server:  Gateway \(servers.joined(separator: ", ")) TCP")
            say("route:   \(route.label)")
            let admitting = Self.admitting(route, inMesh: inMesh, listener: listener)
            let connection = RequestAttributes(method: "", target: "", authority: "", scheme: "tcp", headers: HeaderList())
            if let matched = route.matches.firstIndex(where: { $0.matches(connection, gateways: admitting, port: port) }) {
                say("match:   [\(matched)] \(RouteTableDocument.RouteDocument.describe(route.matches[matched]))")
            } else {
                say("match:   any connection (the route has no match conditions)")
            }
            destinations(of: route, withoutEndpoints: "connection closed", say: say)
            return true
        }
    }

    /// The gateways that admit a request or connection on `listener`, for telling which of `route`'s matches took it:
    /// the listener's servers' gateways or, in the mesh, a match's `mesh` (in whatever namespace it was written).
    private static func admitting(_ route: RouteTable.Route, inMesh: Bool, listener: RouteTable.Listener?) -> Set<ResourceName> {
        inMesh
            ? Set(route.matches.flatMap(\.gateways).filter { $0.name == ResourceName.mesh.name })
            : Set(listener?.servers.map(\.gateway) ?? [])
    }

    /// The route's weighted destinations and their endpoints; `withoutEndpoints` says what a destination with none
    /// does to traffic.
    private static func destinations(of route: RouteTable.Route, withoutEndpoints: String, say: (String) -> Void) {
        say("destinations:")
        for destination in RouteTableDocument.RouteDocument(route).destinations {
            let endpoints = destination.endpoints.isEmpty ? "no endpoints: \(withoutEndpoints)" : destination.endpoints.joined(separator: ", ")
            let subset = destination.subset.map { " subset \($0)" } ?? ""
            let weight = share(destination.weight, of: route.targets.count == 1 ? 100 : route.totalWeight)
            let upstream = destination.upstream.map { " (\($0))" } ?? ""
            say("  \(String(repeating: " ", count: max(0, 3 - weight.count)))\(weight)%  \(destination.host)\(subset):\(destination.port) → \(endpoints)\(upstream)")
        }
    }

    /// A weight's share of the route's traffic in percent, as Istio reads weights (relative: `weight: 1` beside
    /// `weight: 3` is 25%): whole where it is, else to a tenth.
    static func share(_ weight: Int, of total: Int) -> String {
        guard total > 0 else { return "0" }
        let tenths = (weight * 1000 + total / 2) / total
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }

    /// The route's answer when it never forwards (a direct response or a redirect), else nil.
    static func localAnswer(_ policy: RoutePolicy) -> String? {
        if let direct = policy.directResponse {
            let body = direct.body.map { " with a \($0.contents.count)-byte body" } ?? ""
            return "answers \(direct.status)\(body) itself; nothing is forwarded"
        }
        if let redirect = policy.redirect {
            var parts: [String] = []
            if let scheme = redirect.scheme { parts.append("scheme \(scheme.rawValue)") }
            if let authority = redirect.authority { parts.append("host \(authority)") }
            if let port = redirect.port { parts.append("port \(port)") }
            if let derive = redirect.derivePort {
                parts.append(derive == .fromRequestPort ? "the request's port" : "the scheme's default port")
            }
            if let uri = redirect.uri { parts.append("path \(uri)") }
            let changes = parts.isEmpty ? "the same URL" : parts.joined(separator: ", ")
            return "redirects with \(redirect.redirectCode) to \(changes); nothing is forwarded"
        }
        if let abort = policy.fault?.abort, abort.percentage.value >= 100 {
            let held = policy.fault?.delay.map { " after its delay of \(Readable.duration($0.fixedDelay)) for \(percent($0.percentage)) of them" } ?? ""
            return "every request is answered \(answer(of: abort)) by the route's fault\(held); nothing is forwarded"
        }
        return nil
    }

    /// What a fault abort answers: its HTTP status, or its gRPC status by name and code.
    static func answer(of abort: HTTPFaultInjection.Abort) -> String {
        guard let code = abort.grpcStatus else { return "\(abort.httpStatus)" }
        let name = GRPCStatusCodes.named.first { $0.value == code }?.key ?? "\(code)"
        return "gRPC status \(name) (\(code))"
    }

    /// Each thing the route does on the way: `fault:`, `rewrite:`, `cors:`, `headers:`, `timeout:`, `retries:`, `mirror:`.
    static func steps(_ policy: RoutePolicy, stickiness: Stickiness?) -> [(label: String, text: String)] {
        var lines: [(String, String)] = []
        if let abort = policy.fault?.abort, abort.percentage.value < 100 {
            lines.append(("fault", "\(percent(abort.percentage)) of requests answered \(answer(of: abort)) without being forwarded"))
        }
        if let delay = policy.fault?.delay {
            let timeout = policy.timeout == nil ? "" : " (the timeout runs from its end)"
            let abort = policy.fault?.abort == nil ? "" : ", drawn apart from the abort"
            lines.append(("fault", "\(percent(delay.percentage)) of requests held \(Readable.duration(delay.fixedDelay)) first\(abort)\(timeout)"))
        }
        if let rewrite = policy.rewrite {
            let parts = [
                rewrite.uri.map { "the matched path prefix becomes \($0)" },
                rewrite.uriRegex.map { "in the path, \($0.match.source) becomes \($0.rewrite)" }, rewrite.authority.map { "host becomes \($0)" },
            ]
            lines.append(("rewrite", parts.compactMap { $0 }.joined(separator: ", ")))
        }
        if let cors = policy.cors {
            let origins = cors.allowOrigins.isEmpty ? "no origin" : "origins " + cors.allowOrigins.map(\.description).joined(separator: ", ")
            let unmatched = cors.unmatchedPreflights == .ignore ? ", other origins' answered without it" : ""
            lines.append(("cors", "allows \(origins): the gateway answers their preflights\(unmatched) and marks their answers"))
        }
        if let headers = policy.headers {
            for (side, operations) in [("request", headers.request), ("response", headers.response)] where !operations.isEmpty {
                lines.append(("headers", "\(side): " + describe(operations)))
            }
        }
        lines.append(("timeout", policy.timeout.map { "\(Readable.duration($0)) for the whole request, retries included" } ?? "none"))
        if let retries = policy.retries {
            let on = retries.retryOn.map(\.rawValue) + retries.retriableStatusCodes.map(String.init)
            let perTry = retries.perTryTimeout.map { ", \(Readable.duration($0)) a try" } ?? ""
            let backoff = retries.backoff.map { ", backoff from \(Readable.duration($0))" } ?? ""
            let hosts = retries.ignorePreviousHosts.map {
                $0 ? ", each to an endpoint not tried yet while one is left" : ", to the endpoint the balancer picks, tried or not"
            } ?? ""
            let localities = retries.retryRemoteLocalities ? ", leaving the localities tried (every second attempt)" : ""
            lines.append(("retries", "up to \(retries.attempts) on \(on.joined(separator: ", "))\(perTry)\(backoff)\(hosts)\(localities)"))
        } else {
            lines.append(("retries", "off"))
        }
        for mirror in policy.mirrors {
            lines.append(("mirror", "\(percent(mirror.percentage)) copied to \(mirror.destination); its answers are discarded"))
        }
        if let stickiness {
            lines.append(("sticky", "a request carrying \(stickiness) keeps its destination as the weights change"))
        }
        return lines
    }

    static func describe(_ operations: HeaderOperations) -> String {
        var parts: [String] = []
        parts += operations.set.sorted { $0.key < $1.key }.map { "set \($0.key): \($0.value)" }
        parts += operations.add.sorted { $0.key < $1.key }.map { "add \($0.key): \($0.value)" }
        parts += operations.remove.sorted().map { "remove \($0)" }
        if let authority = operations.authority { parts.append("host becomes \(authority)") }
        return parts.joined(separator: ", ")
    }

    /// `25%`, `0.5%`.
    static func percent(_ share: Percent) -> String {
        share.value == share.value.rounded() ? "\(Int(share.value))%" : "\(share.value)%"
    }
}
