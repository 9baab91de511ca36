extension RouteTable {
    /// Finds the tcp route for a plain TCP connection on the TCP listener for `port`: the first, in the order the
    /// VirtualServices were given, whose match admits the port and the gateway — as Envoy matches a TCP filter chain
    /// by destination port alone.
    public func resolveTCP(port: Int) -> Resolution {
        guard let listener = tcp[port] else {
            return .noRoute(reason: "no TCP server listens on port \(port)")
        }
        // A connection is a request with no host: the one virtual host and every server admit it.
        let connection = RequestAttributes(method: "", target: "", authority: "", scheme: "tcp", headers: HeaderList())
        let admission = listener.admission(of: connection.host)
        if case .route(let route)? = listener.resolve(connection, admission: admission) { return .route(route) }
        let gateways = listener.servers.map(\.gateway.description).joined(separator: ", ")
        return .noRoute(reason: "no tcp route of a VirtualService bound to \(gateways) matches port \(port)")
    }
}
