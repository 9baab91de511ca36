extension RouteTable {
    /// Finds the tls route for a connection on the passthrough listener for `port` whose ClientHello names
    /// `serverName` (nil: it named none): the exact name's routes first, then the longest matching wildcard's, the
    /// first whose match admits the port and gateway winning — as Envoy picks a filter chain by `server_names`.
    /// `inMesh`: a connection to the mesh's listener for that service port (`meshTLS`); one its server name does not
    /// route goes by the port's tcp routes when it has any (`meshTCP`), as a sidecar's TCP filter chain follows its
    /// TLS ones.
    public func resolvePassthrough(serverName: String?, port: Int, inMesh: Bool = false) -> Resolution {
        if inMesh {
            let bySNI = resolvePassthrough(
                serverName: serverName, port: port, listener: meshTLS[port], server: "tls route in the mesh",
                absent: "no tls route of a VirtualService bound to the mesh and no service's tls port serves port \(port)"
            )
            guard case .noRoute = bySNI, meshTCP[port] != nil else { return bySNI }
            return resolveTCP(port: port, inMesh: true)
        }
        return resolvePassthrough(
            serverName: serverName, port: port, listener: passthrough[port], server: "PASSTHROUGH server",
            absent: "no PASSTHROUGH server listens on port \(port)"
        )
    }

    /// `server`: what admits a server name on `listener`, for the reason a name is refused; `absent`: the reason
    /// when there is no listener.
    private func resolvePassthrough(serverName: String?, port: Int, listener: Listener?, server: String, absent: String) -> Resolution {
        guard let listener else { return .noRoute(reason: absent) }
        guard let serverName, !serverName.isEmpty else {
            return .noRoute(reason: "the ClientHello names no server (no SNI), which port \(port) routes by")
        }
        let connection = RequestAttributes(method: "", target: "", authority: serverName, scheme: "tls", headers: HeaderList())
        let admission = listener.admission(of: connection.host)
        if admission == 0 {
            return .noRoute(reason: "no \(server) on port \(port) accepts server name \"\(serverName)\"")
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
