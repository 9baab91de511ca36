extension RouteTable {
    /// The mesh's plain TCP listeners, as Istio's sidecars build their outbound TCP listeners: a VirtualService bound
    /// to the mesh with `tcp` routes serves them on each port of the services its hosts name (the ports its matches
    /// name when its hosts name no known service) that one of its routes matches; a service's own `tcp` port
    /// (`ServicePort.opaque`) that none serves goes straight to its endpoints. Each port's listener holds every such
    /// VirtualService's tcp routes in manifest order, then the services' own: a sidecar tells two services on one port
    /// apart by their addresses, which one machine does not have, so the first whose match admits the port wins.
    static func meshTCPListeners(compiling config: MeshConfig) -> [Int: Listener] {
        var connections = VirtualHostCollector()
        var routed = Set<ServiceOnPort>()
        for virtualService in config.virtualServices where virtualService.appliesToMesh && !virtualService.tcp.isEmpty {
            let routes = Self.tcpRoutes(of: virtualService, boundTo: [.mesh], in: config)
            guard !routes.isEmpty else { continue }
            let services = virtualService.hosts.map(HostPattern.init).flatMap(config.services(namedBy:))
            for port in meshTCPPorts(of: virtualService, in: config) {
                connections.add(routes, host: Self.anyConnection, port: port)
                routed.formUnion(services.map { ServiceOnPort(service: $0.name, port: port) })
            }
        }
        for service in config.services {
            for port in service.ports where port.opaque == .tcp && !routed.contains(ServiceOnPort(service: service.name, port: port.number)) {
                guard let direct = Self.directRoute(to: service, port: port, section: "tcp", in: config) else { continue }
                connections.add([direct], host: Self.anyConnection, port: port.number)
            }
        }
        return connections.listeners(servedBy: [ServerBinding(gateway: .mesh, hosts: [Self.anyConnection])])
    }

    /// The mesh's TLS listeners, routed by the ClientHello's server name as a sidecar's outbound TLS filter chains
    /// are: a VirtualService bound to the mesh with `tls` routes serves their `sniHosts` on each port of the services
    /// its hosts name (the ports its matches name when they name no known service) that one of its matches admits; a
    /// service's own `tls` port (`ServicePort.opaque`) takes every name of the service that no route serves there,
    /// straight to its endpoints. The destination terminates TLS: the mesh reads only the server name.
    static func meshTLSListeners(compiling config: MeshConfig) -> [Int: Listener] {
        var serverNames = VirtualHostCollector()
        for virtualService in config.virtualServices where virtualService.appliesToMesh && !virtualService.tls.isEmpty {
            let routes = Self.sniRoutes(of: virtualService, boundTo: [.mesh], in: config)
            for port in meshTLSPorts(of: virtualService, in: config) {
                // A match for another port, or for gateways only, leaves the name to the service's own route here.
                for (host, route) in routes where route.matches.allSatisfy({ ($0.port == nil || $0.port == port) && Self.admitsMesh($0.gateways) }) {
                    serverNames.add([route], host: host, port: port)
                }
            }
        }
        for service in config.services {
            for port in service.ports where port.opaque == .tls {
                let names = service.hosts.map(HostPattern.init).filter { !serverNames.contains($0, port: port.number) }
                guard !names.isEmpty, let direct = Self.directRoute(to: service, port: port, section: "tls", in: config) else { continue }
                for name in names { serverNames.add([direct], host: name, port: port.number) }
            }
        }
        return serverNames.listeners(servedBy: [ServerBinding(gateway: .mesh, hosts: [HostPattern("*")], passesThrough: true)])
    }

    /// The ports a mesh-bound VirtualService's tcp routes serve: its services' ports (or, when its hosts name no
    /// known service, the ports its matches name) that some route's match admits. Sorted.
    public static func meshTCPPorts(of virtualService: VirtualService, in config: MeshConfig) -> [Int] {
        meshPorts(of: virtualService, routes: virtualService.tcp.map { $0.matches.map { ($0.port, $0.gateways) } }, in: config)
    }

    /// The ports a mesh-bound VirtualService's tls routes serve, as `meshTCPPorts` finds its tcp routes'. Sorted.
    public static func meshTLSPorts(of virtualService: VirtualService, in config: MeshConfig) -> [Int] {
        meshPorts(of: virtualService, routes: virtualService.tls.map { $0.matches.map { ($0.port, $0.gateways) } }, in: config)
    }

    /// `routes`: each route's matches, as port and gateways (none: every connection).
    private static func meshPorts(
        of virtualService: VirtualService, routes: [[(port: Int?, gateways: [ResourceName])]], in config: MeshConfig
    ) -> [Int] {
        let services = virtualService.hosts.map(HostPattern.init).flatMap(config.services(namedBy:))
        let named = routes.flatMap { $0.compactMap(\.port) }
        let candidates = services.isEmpty ? Set(named) : Set(services.flatMap { $0.ports.map(\.number) })
        return candidates.filter { port in
            routes.contains { matches in matches.isEmpty || matches.contains { ($0.port == nil || $0.port == port) && Self.admitsMesh($0.gateways) } }
        }.sorted()
    }

    /// Whether a match's `gateways` lets it apply in the mesh: none listed (the VirtualService's), or `mesh` among them.
    private static func admitsMesh(_ gateways: [ResourceName]) -> Bool {
        gateways.isEmpty || gateways.contains { $0.name == ResourceName.mesh.name }
    }

    /// The route no VirtualService wrote for a known service's port in the mesh: all of it to the service's
    /// endpoints (nil for a service with no name to address it by).
    static func directRoute(to service: MeshService, port: ServicePort, section: String, policy: RoutePolicy = RoutePolicy(), in config: MeshConfig) -> Route? {
        // By its first name that is its alone: a Kubernetes Service's short name may be another namespace's service
        // of the same name too (then `reviews.shop`), and would reach whichever was declared first.
        guard let primary = service.hosts.first(where: { config.services(namedBy: HostPattern($0)).count == 1 })
            ?? service.hosts.max(by: { $0.utf8.count < $1.utf8.count })
        else { return nil }
        return Route(
            virtualService: service.name, index: 0, name: Self.directRouteName, gateways: [.mesh], matches: [],
            targets: [Self.target(for: WeightedDestination(destination: Destination(host: primary, port: port.number), weight: 100), in: config)],
            policy: policy, section: section
        )
    }

    /// A service's port, as a set member: which ports' own routes a VirtualService's took the place of.
    private struct ServiceOnPort: Hashable {
        let service: ResourceName
        let port: Int
    }
}

/// Where a CONNECT through the mesh's listener goes (RFC 9110 §9.3.6): what a sidecar would do with a connection
/// to that host and port.
public enum MeshTunnel: Equatable, Sendable {
    /// An HTTP port of a host the mesh routes: the tunnel carries requests, each routed by the mesh's HTTP routes.
    case requests
    /// A TCP or TLS port of the mesh: the tunnel's bytes take that port's listener's routes, by port or server name.
    case stream
    /// Nothing in the mesh has that host and port: no tunnel, for the reason given.
    case refused(String)
}

extension RouteTable {
    /// Where a CONNECT to `host` and `port` through the mesh goes: an HTTP port of a host the mesh's routes name
    /// carries requests; else a port with a TCP or TLS listener carries a stream, routed as a connection to that
    /// listener (by port, or by the ClientHello's server name); else it is refused — the mesh is no open proxy.
    public func meshTunnel(host: String, port: Int) -> MeshTunnel {
        if let listener = mesh[port], listener.hasVirtualHost(matching: host) { return .requests }
        if meshTCP[port] != nil || meshTLS[port] != nil { return .stream }
        return .refused("no service in the mesh has host \"\(host)\" on port \(port)")
    }
}

extension RouteTable.Listener {
    /// Whether a virtual host's pattern matches `host`: by hash for exact names, as the resolver finds them.
    func hasVirtualHost<S: StringProtocol>(matching host: S) -> Bool {
        guard let exactHosts, let wildcardIndex else { return virtualHosts.contains { $0.pattern.matches(host) } }
        if exactHosts[HostKey(host)]?.contains(where: { virtualHosts[$0].pattern.matches(host) }) == true { return true }
        var found = false
        wildcardIndex.forEachCandidate(for: host) { index in
            found = virtualHosts[index].pattern.matches(host)
            return !found
        }
        return found
    }
}
