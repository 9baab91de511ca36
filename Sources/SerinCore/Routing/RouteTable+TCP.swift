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

extension RouteTable {
    /// The mesh's TCP listeners, as Istio's sidecars build their outbound TCP listeners: a VirtualService bound to the
    /// mesh with `tcp` routes serves them on each port of the services its hosts name (the ports its matches name when
    /// its hosts name no known service) that one of its routes matches. Each port's listener holds every such
    /// VirtualService's tcp routes in manifest order: a sidecar tells two services on one port apart by their
    /// addresses, which one machine does not have, so the first whose match admits the port wins.
    static func meshTCPListeners(compiling config: MeshConfig) -> [Int: Listener] {
        var connections = VirtualHostCollector()
        for virtualService in config.virtualServices where virtualService.appliesToMesh && !virtualService.tcp.isEmpty {
            let routes = Self.tcpRoutes(of: virtualService, boundTo: [.mesh], in: config)
            for port in meshTCPPorts(of: virtualService, in: config) {
                connections.add(routes, host: Self.anyConnection, port: port)
            }
        }
        let mesh = [ServerBinding(gateway: .mesh, hosts: [Self.anyConnection])]
        return Dictionary(uniqueKeysWithValues: connections.ports.map { port in
            (port, Listener(port: port, servers: mesh, virtualHosts: connections.virtualHosts(onPort: port)))
        })
    }

    /// The ports a mesh-bound VirtualService's tcp routes serve: its services' ports (or, when its hosts name no
    /// known service, the ports its matches name) that some route's match admits. Sorted.
    public static func meshTCPPorts(of virtualService: VirtualService, in config: MeshConfig) -> [Int] {
        let services = virtualService.hosts.map(HostPattern.init).flatMap(config.services(namedBy:))
        let named = virtualService.tcp.flatMap { $0.matches.compactMap(\.port) }
        let candidates = services.isEmpty ? Set(named) : Set(services.flatMap { $0.ports.map(\.number) })
        return candidates.filter { port in
            virtualService.tcp.contains { route in
                route.matches.isEmpty || route.matches.contains { ($0.port == nil || $0.port == port) && ($0.gateways.isEmpty || $0.gateways.contains { $0.name == ResourceName.mesh.name }) }
            }
        }.sorted()
    }
}
