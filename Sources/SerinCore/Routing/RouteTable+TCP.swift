extension RouteTable {
    /// Finds the tcp route for a plain TCP connection on the TCP listener for `port`: the first, in the order the
    /// VirtualServices were given, whose match admits the port and the gateway — as Envoy matches a TCP filter chain
    /// by destination port alone.
    /// `inMesh`: a connection to the mesh's TCP listener for that service port, routed by the mesh's tcp routes.
    public func resolveTCP(port: Int, inMesh: Bool = false) -> Resolution {
        guard let listener = inMesh ? meshTCP[port] : tcp[port] else {
            return .noRoute(reason: inMesh ? "no tcp route of a VirtualService bound to the mesh serves port \(port)" : "no TCP server listens on port \(port)")
        }
        // A connection is a request with no host: the one virtual host and every server admit it.
        let connection = RequestAttributes(method: "", target: "", authority: "", scheme: "tcp", headers: HeaderList())
        let admission = listener.admission(of: connection.host)
        if case .route(let route)? = listener.resolve(connection, admission: admission) { return .route(route) }
        let gateways = listener.servers.map(\.gateway.description).joined(separator: ", ")
        return .noRoute(reason: "no tcp route of a VirtualService bound to \(gateways) matches port \(port)")
    }
}
