import SerinCore

/// The request and response edits a VirtualService route asks for (Istio's `headers`, `rewrite`,
/// `redirect`), as pure functions on request heads and header fields so they are tested without sockets.
enum RouteActions {
    /// Istio's header manipulation: `set` replaces, `add` appends, `remove` deletes, in that order.
    static func apply(_ operations: HeaderOperations, to headers: inout HeaderFields) {
        for name in operations.remove { headers.remove(name.lowercased()) }
        for (name, value) in operations.set.sorted(by: { $0.key < $1.key }) { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in operations.add.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
    }

    /// Istio's `rewrite.uri`: replaces the prefix the route matched on (the whole path when it matched otherwise),
    /// keeping the query. (`rewrite.authority` is one of the ways to a new Host: `RouteTable.Route.authority`.)
    static func rewrite(uri: String, head: inout RequestHead, matchedPrefix: String?) {
        let (path, query) = split(head.target)
        let rest = matchedPrefix.map { path.dropFirst($0.utf8.count) } ?? ""
        var rewritten = uri + rest
        if rewritten.isEmpty { rewritten = "/" }
        head.target = rewritten + query
    }

    /// Everything a route and its destination change in a request on its way upstream, in Envoy's order: the path
    /// rewrite, the route's header edits, the destination's, and then the Host (`RouteTable.Route.authority`).
    static func edit(_ head: inout RequestHead, route: RouteTable.Route, target: RouteTable.Target, path: Substring) {
        if let uri = route.policy.rewrite?.uri {
            rewrite(uri: uri, head: &head, matchedPrefix: matchedPrefix(of: route, path: path))
        } else if let regex = route.policy.rewrite?.uriRegex {
            let (path, query) = split(head.target)
            head.target = regex.match.replacingMatches(in: String(path), with: regex.rewrite) + query
        }
        if let operations = route.policy.headers?.request { apply(operations, to: &head.fields) }
        if let operations = target.headers?.request { apply(operations, to: &head.fields) }
        if let authority = route.authority(toward: target) { head.fields.replaceOrAdd(name: "host", value: authority) }
    }

    /// The prefix of a `uri: {prefix: ...}` match of `route` that `path` starts with: what a rewrite replaces.
    static func matchedPrefix(of route: RouteTable.Route, path: Substring) -> String? {
        for match in route.matches {
            guard case .prefix(let prefix) = match.uri else { continue }
            if ASCII.hasPrefix(path.utf8, prefix.utf8, ignoringCase: match.ignoreUriCase) { return prefix }
        }
        return nil
    }

    /// The `location` of Istio's `redirect`: each part the redirect names replaces the request's own.
    static func location(for redirect: HTTPRedirect, request: RequestHead, scheme: String = "http") -> String {
        let scheme = redirect.scheme?.rawValue ?? scheme
        let requested = request.fields.first(.host) ?? ""
        var (host, port) = splitPort(redirect.authority ?? requested)
        if redirect.authority != nil, redirect.port == nil, redirect.derivePort == nil { port = splitPort(requested).port }
        if let explicit = redirect.port {
            port = String(explicit)
        } else if redirect.derivePort == .fromProtocolDefault {
            port = nil
        } else if redirect.derivePort == .fromRequestPort {
            port = splitPort(requested).port
        }
        let (path, query) = split(request.target)
        let target: String
        if let uri = redirect.uri {
            target = uri.contains("?") ? uri : uri + query
        } else {
            target = String(path) + query
        }
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")\(target)"
    }

    /// Path and `?query` (empty when there is none).
    static func split(_ uri: String) -> (path: Substring, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], "") }
        return (uri[..<mark], String(uri[mark...]))
    }

    private static func splitPort(_ authority: String) -> (host: String, port: String?) {
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            return (String(authority[..<colon]), String(authority[authority.index(after: colon)...]))
        }
        return (authority, nil)
    }
}
