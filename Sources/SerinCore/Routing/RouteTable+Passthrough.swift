extension RouteTable {
    /// Finds the tls route for a connection on the passthrough listener for `port` whose ClientHello names
    /// `serverName` (nil: it named none): the exact name's routes first, then the longest matching wildcard's, the
    /// first whose match admits the port and gateway winning — as Envoy picks a filter chain by `server_names`.
    public func resolvePassthrough(serverName: String?, port: Int) -> Resolution {
        guard let listener = passthrough[port] else {
            return .noRoute(reason: "no PASSTHROUGH server listens on port \(port)")
        }
        guard let serverName, !serverName.isEmpty else {
            return .noRoute(reason: "the ClientHello names no server (no SNI), which port \(port) routes by")
        }
        let connection = RequestAttributes(method: "", target: "", authority: serverName, scheme: "tls", headers: HeaderList())
        let admission = listener.admission(of: connection.host)
        if admission == 0 {
            return .noRoute(reason: "no PASSTHROUGH server on port \(port) accepts server name \"\(serverName)\"")
        }
        if case .route(let route)? = listener.resolve(connection, admission: admission) { return .route(route) }
        return .noRoute(reason: "no tls route on port \(port) matches server name \"\(serverName)\"")
    }

    /// Whether a PASSTHROUGH server on `port` lists `serverName`: such a connection is passed through (or closed
    /// when no tls route takes it), never terminated by an HTTPS server on the same port.
    public func passesThrough(serverName: String?, port: Int) -> Bool {
        guard let serverName, let listener = passthrough[port] else { return false }
        return listener.admission(of: serverName) != 0
    }
}
