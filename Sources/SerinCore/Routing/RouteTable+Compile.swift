extension RouteTable {
    /// Protocols Serin's gateway serves on a Gateway server; others are reported by validation and skipped.
    public static let servedProtocols: Set<String> = ["HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TLS", "TCP"]

    /// Compiles a mesh configuration into listeners and routes.
    ///
    /// Compilation never fails: references that do not resolve become clusters without endpoints
    /// (requests get 503 with a reason). Validation reports those problems with their locations first.
    public init(compiling config: MeshConfig) {
        var servers: [Int: [ServerBinding]] = [:]
        var passthroughServers: [Int: [ServerBinding]] = [:]
        var tcpServers: [Int: [ServerBinding]] = [:]
        var gatewaysByName: [ResourceName: Gateway] = [:]
        for gateway in config.gateways {
            gatewaysByName[gateway.name] = gateway
            for server in gateway.servers where Self.servedProtocols.contains(server.protocol.uppercased()) {
                let hosts = server.hosts.map { HostPattern.gatewayServerHost($0).pattern }
                if server.passesThrough {
                    passthroughServers[server.port, default: []].append(ServerBinding(gateway: gateway.name, hosts: hosts, passesThrough: true))
                    continue
                }
                if server.forwardsTCP {
                    // Plain TCP names no host: the server admits every connection on its port.
                    tcpServers[server.port, default: []].append(ServerBinding(gateway: gateway.name, hosts: [Self.anyConnection]))
                    continue
                }
                servers[server.port, default: []].append(
                    ServerBinding(
                        gateway: gateway.name, hosts: hosts, tls: server.terminatesTLS ? server.tls : nil, httpsRedirect: server.httpsRedirect,
                        passesThrough: server.passesThrough, grpcWeb: server.protocol.uppercased() == "GRPC-WEB"
                    )
                )
            }
        }

        var hostsByPort = VirtualHostCollector()
        var serverNamesByPort = VirtualHostCollector()
        var connectionsByPort = VirtualHostCollector()
        for virtualService in config.virtualServices {
            let bound = virtualService.gateways.filter { gatewaysByName[$0] != nil }
            guard !bound.isEmpty else { continue }
            var routes = ListenerRoutes(virtualService, boundTo: Set(bound), in: config)
            let sniRoutes = Self.sniRoutes(of: virtualService, boundTo: Set(bound), in: config)
            let tcpRoutes = Self.tcpRoutes(of: virtualService, boundTo: Set(bound), in: config)
            var seen = Set<String>()
            for gatewayName in bound {
                guard let gateway = gatewaysByName[gatewayName] else { continue }
                for server in gateway.servers where Self.servedProtocols.contains(server.protocol.uppercased()) {
                    let serverHosts = server.hosts.map(HostPattern.gatewayServerHost)
                    func admits(_ host: HostPattern) -> Bool {
                        serverHosts.contains { namespace, pattern in
                            (namespace == nil || namespace == "*" || namespace == virtualService.name.namespace
                                || (namespace == "." && gateway.name.namespace == virtualService.name.namespace))
                                && pattern.overlaps(host)
                        }
                    }
                    if server.passesThrough {
                        // A server name's virtual host holds the tls routes whose matches name it, in order.
                        for (offset, sni) in sniRoutes.enumerated() where admits(sni.host) {
                            guard seen.insert("\(server.port) tls \(offset)").inserted else { continue }
                            serverNamesByPort.add([sni.route], host: sni.host, port: server.port)
                        }
                        continue
                    }
                    if server.forwardsTCP {
                        // As Istio binds them: the VirtualService's tcp routes serve a TCP server one of whose hosts
                        // overlaps one of its own, all under the one virtual host that admits every connection.
                        guard !tcpRoutes.isEmpty, virtualService.hosts.map(HostPattern.init).contains(where: admits),
                            seen.insert("\(server.port) tcp").inserted
                        else { continue }
                        connectionsByPort.add(tcpRoutes, host: Self.anyConnection, port: server.port)
                        continue
                    }
                    for host in virtualService.hosts.map(HostPattern.init) {
                        guard admits(host), seen.insert("\(server.port) \(host.text)").inserted else { continue }
                        hostsByPort.add(routes.at(server.port), host: host, port: server.port)
                    }
                }
            }
        }

        var listeners: [Int: Listener] = [:]
        for (port, bindings) in servers {
            listeners[port] = Listener(port: port, servers: bindings, virtualHosts: hostsByPort.virtualHosts(onPort: port))
        }
        var passthrough: [Int: Listener] = [:]
        for (port, bindings) in passthroughServers {
            passthrough[port] = Listener(port: port, servers: bindings, virtualHosts: serverNamesByPort.virtualHosts(onPort: port))
        }
        var tcp: [Int: Listener] = [:]
        for (port, bindings) in tcpServers {
            tcp[port] = Listener(port: port, servers: bindings, virtualHosts: connectionsByPort.virtualHosts(onPort: port))
        }
        self.init(
            listeners: listeners, mesh: Self.meshListeners(compiling: config), passthrough: passthrough, tcp: tcp,
            meshTCP: Self.meshTCPListeners(compiling: config), meshTLS: Self.meshTLSListeners(compiling: config)
        )
    }

    /// The host pattern of a TCP port's one server binding and virtual host: a plain TCP connection names no host.
    static let anyConnection = HostPattern("*")

    /// A VirtualService's HTTP routes, bound to `gateways`. A route with a `delegate` stands for the delegate's
    /// routes, each merged with it (`HTTPRoute.merged(into:)`) and named for the delegate VirtualService, whose weights
    /// a Canary moves; a delegate that does not exist, or that delegates again (Istio allows one level), routes nothing.
    /// A route whose matches all name source workloads none of `gateways` is (`SourceMatched.fitted`) is left out.
    /// `listenerPort`: the port requests arrive on, which a destination without a port takes when its service has
    /// several (`dependsOnListenerPort`), as Istio builds its cluster from the listener's port.
    static func routes(
        of virtualService: VirtualService, boundTo gateways: Set<ResourceName>, in config: MeshConfig, listenerPort: Int? = nil
    ) -> [Route] {
        virtualService.http.enumerated().flatMap { index, route -> [Route] in
            guard let name = route.delegate else {
                return [Self.route(route, of: virtualService.name, index: index, boundTo: gateways, in: config, listenerPort: listenerPort)]
                    .compactMap { $0 }
            }
            guard let delegate = config.virtualService(named: name), delegate.hosts.isEmpty else { return [] }
            return delegate.http.enumerated().compactMap { delegateIndex, delegated in
                guard delegated.delegate == nil, let merged = delegated.merged(into: route) else { return nil }
                return Self.route(
                    merged, of: delegate.name, index: delegateIndex, boundTo: gateways, in: config, listenerPort: listenerPort,
                    delegatedBy: "\(virtualService.name) http[\(index)]"
                )
            }
        }
    }

    private static func route(
        _ route: HTTPRoute, of virtualService: ResourceName, index: Int, boundTo gateways: Set<ResourceName>, in config: MeshConfig,
        listenerPort: Int?, delegatedBy: String? = nil
    ) -> Route? {
        guard let matches = RequestMatch.fitted(route.matches, toSourcesOf: gateways, in: config) else { return nil }
        return Route(
            virtualService: virtualService, index: index, name: route.name, gateways: gateways, matches: matches,
            targets: route.destinations.map { Self.target(for: $0, in: config, listenerPort: listenerPort, from: virtualService.namespace) },
            policy: RoutePolicy(compiling: route, in: config, listenerPort: listenerPort, from: virtualService.namespace),
            stickiness: route.stickiness, delegatedBy: delegatedBy
        )
    }

    /// Whether `destination` takes the port a request arrives on: it names none, and its service has several.
    static func takesListenerPort(_ destination: Destination, of service: MeshService?) -> Bool {
        destination.port == nil && (service?.ports.count ?? 0) > 1
    }

    /// Whether a VirtualService's HTTP routes (a delegate's too) send to a destination, or mirror to one, that takes
    /// the listener's port (`takesListenerPort`): such a route resolves per port requests arrive on.
    static func dependsOnListenerPort(_ virtualService: VirtualService, in config: MeshConfig) -> Bool {
        func depends(_ routes: [HTTPRoute], from namespace: String) -> Bool {
            func portless(_ destination: Destination) -> Bool {
                takesListenerPort(destination, of: config.service(forHost: destination.host, from: namespace))
            }
            return routes.contains { route in
                route.destinations.contains { portless($0.destination) }
                    || ([route.mirror].compactMap { $0 } + route.mirrors).contains { portless($0.destination) }
            }
        }
        if depends(virtualService.http, from: virtualService.name.namespace) { return true }
        return virtualService.http.compactMap(\.delegate).contains { name in
            config.virtualService(named: name).map { depends($0.http, from: $0.name.namespace) } ?? false
        }
    }

    /// A VirtualService's TLS routes bound to `gateways`, one `Route` per match, under each server name the match
    /// names: the match's port and gateways become the route's one `RequestMatch`, so a server name resolves the
    /// way a Host does.
    static func sniRoutes(
        of virtualService: VirtualService, boundTo gateways: Set<ResourceName>, in config: MeshConfig
    ) -> [(host: HostPattern, route: Route)] {
        virtualService.tls.enumerated().flatMap { index, tlsRoute in
            let targets = tlsRoute.destinations.map { Self.target(for: $0, in: config, from: virtualService.name.namespace) }
            return tlsRoute.matches.flatMap { written -> [(host: HostPattern, route: Route)] in
                guard let match = written.fitted(toSourcesOf: gateways, in: config) else { return [] }
                var condition = RequestMatch()
                condition.port = match.port
                condition.gateways = match.gateways
                let route = Route(
                    virtualService: virtualService.name, index: index, name: nil, gateways: gateways, matches: [condition],
                    targets: targets, section: "tls"
                )
                return match.sniHosts.map { (HostPattern($0), route) }
            }
        }
    }

    /// A VirtualService's TCP routes bound to `gateways`: each match's port and gateways become one `RequestMatch` of
    /// the route (none: every connection), so a connection resolves the way a request with no host would. Matches
    /// naming source workloads are fitted to the gateways' as HTTP routes' are.
    static func tcpRoutes(of virtualService: VirtualService, boundTo gateways: Set<ResourceName>, in config: MeshConfig) -> [Route] {
        virtualService.tcp.enumerated().compactMap { index, tcpRoute in
            guard let fitted = L4Match.fitted(tcpRoute.matches, toSourcesOf: gateways, in: config) else { return nil }
            let matches = fitted.map { match in
                var condition = RequestMatch()
                condition.port = match.port
                condition.gateways = match.gateways
                return condition
            }
            return Route(
                virtualService: virtualService.name, index: index, name: nil, gateways: gateways, matches: matches,
                targets: tcpRoute.destinations.map { Self.target(for: $0, in: config, from: virtualService.name.namespace) }, section: "tcp"
            )
        }
    }

    /// Resolves a weighted destination to the endpoints it reaches (one without a port, of a service with several, at
    /// `listenerPort`).
    /// `namespace`: that of the VirtualService naming the destination, which a bare host is looked up in first.
    static func target(for weighted: WeightedDestination, in config: MeshConfig, listenerPort: Int? = nil, from namespace: String? = nil) -> Target {
        let destination = weighted.destination
        return Target(
            destination: destination, weight: weighted.weight,
            cluster: cluster(for: destination, in: config, listenerPort: listenerPort, from: namespace),
            headers: weighted.headers
        )
    }

    /// The endpoints a destination reaches, with the traffic policy its DestinationRule sets for them. A destination
    /// without a port, of a service with several, takes `listenerPort` (Istio's `GetDestinationCluster`: the port the
    /// request arrived on), and reaches nothing when the service does not expose it. A bare host (`reviews`) names
    /// the Kubernetes Service of `namespace` (the naming VirtualService's) first, as Istio expands it.
    static func cluster(for destination: Destination, in config: MeshConfig, listenerPort: Int? = nil, from namespace: String? = nil) -> Cluster {
        let service = config.service(forHost: destination.host, from: namespace)
        let fromListener = takesListenerPort(destination, of: service) ? listenerPort : nil
        let servicePort = service.flatMap { Self.port(destination.port ?? fromListener, of: $0) }
        let port = servicePort?.number ?? destination.port ?? fromListener ?? 80
        var endpoints: [Cluster.Endpoint] = []
        if let service, let servicePort {
            let subsetLabels: [String: String]?
            if let subset = destination.subset {
                subsetLabels = config.subset(named: subset, ofHost: destination.host, from: namespace)?.labels
            } else {
                subsetLabels = [:]
            }
            if let subsetLabels {
                endpoints = service.endpoints
                    .filter { endpoint in subsetLabels.allSatisfy { endpoint.labels[$0.key] == $0.value } }
                    .map { endpoint in
                        let endpointPort = servicePort.name.flatMap { endpoint.ports[$0] }
                            ?? servicePort.targetPort ?? servicePort.number
                        return Cluster.Endpoint(
                            address: endpoint.address, port: endpointPort, labels: endpoint.labels, workload: endpoint.workload,
                            weight: endpoint.weight, locality: endpoint.locality
                        )
                    }
            }
        }
        var policy = config.trafficPolicy(forHost: destination.host, subset: destination.subset, port: port, from: namespace)
        // localityLbSetting.distribute: each endpoint's weight as its locality's share says; one no share names takes none.
        if let weights = policy.loadBalancer?.locality?.distributedWeights(
            of: endpoints.map { ($0.locality, $0.weight) }, from: config.gatewayLocality ?? Locality(region: "")
        ) {
            endpoints = zip(endpoints, weights).compactMap { endpoint, weight in
                weight.map {
                    Cluster.Endpoint(
                        address: endpoint.address, port: endpoint.port, labels: endpoint.labels, workload: endpoint.workload, weight: $0,
                        locality: endpoint.locality
                    )
                }
            }
        }
        // As Istio: a ServiceEntry's names apply where the DestinationRule gives none. Without `sni` either, the
        // request's host is checked instead (Envoy's auto_san_validation overrides them), so they apply only with it.
        if var tls = policy.tls, tls.sni != nil, tls.subjectAltNames.isEmpty, let names = service?.subjectAltNames, !names.isEmpty {
            tls.subjectAltNames = names
            policy.tls = tls
        }
        return Cluster(
            host: destination.host, subset: destination.subset, port: port,
            service: service?.name, endpoints: endpoints, trafficPolicy: policy,
            portSpeaksHTTP2: servicePort?.speaksHTTP2 ?? false, gatewayLocality: config.gatewayLocality
        )
    }

    /// The service port a destination addresses: the one numbered, or the only one when none is named.
    public static func port(_ number: Int?, of service: MeshService) -> ServicePort? {
        if let number { return service.ports.first { $0.number == number } }
        return service.ports.count == 1 ? service.ports[0] : nil
    }
}

/// A VirtualService's HTTP routes for each listener port they serve: compiled once when no destination depends on the
/// port (`RouteTable.dependsOnListenerPort`), else once per port asked, so a port-less destination of a service with
/// several ports resolves at the port its requests arrive on.
struct ListenerRoutes {
    private let virtualService: VirtualService
    private let gateways: Set<ResourceName>
    private let config: MeshConfig
    /// The routes at no port: all of them when none depends on the port.
    let portless: [RouteTable.Route]
    private let perPort: Bool
    private var byPort: [Int: [RouteTable.Route]] = [:]

    init(_ virtualService: VirtualService, boundTo gateways: Set<ResourceName>, in config: MeshConfig) {
        self.virtualService = virtualService
        self.gateways = gateways
        self.config = config
        portless = RouteTable.routes(of: virtualService, boundTo: gateways, in: config)
        perPort = RouteTable.dependsOnListenerPort(virtualService, in: config)
    }

    /// The routes as requests arriving on `port` take them.
    mutating func at(_ port: Int) -> [RouteTable.Route] {
        guard perPort else { return portless }
        if let compiled = byPort[port] { return compiled }
        let compiled = RouteTable.routes(of: virtualService, boundTo: gateways, in: config, listenerPort: port)
        byPort[port] = compiled
        return compiled
    }
}
