/// Everything routing depends on, decoded from whatever YAML dialect it came from.
public struct MeshConfig: Hashable, Sendable {
    public var gateways: [Gateway]
    public var virtualServices: [VirtualService] {
        didSet { virtualServiceIndex = Self.index(virtualServices) }
    }
    public var destinationRules: [DestinationRule] {
        didSet { ruleIndex = Self.index(destinationRules) }
    }
    public var services: [MeshService] {
        didSet { serviceIndex = Self.index(services) }
    }
    /// The workload the mesh listener is the sidecar of (`serin gateway --mesh-labels`), whose labels and namespace
    /// decide which `sourceLabels` matches apply to the mesh's routes. No labels unless given.
    public var meshWorkload = SourceWorkload()
    /// Where the gateway runs (`serin gateway --locality`), for locality load balancing; nil turns it off.
    public var gatewayLocality: Locality?
    /// Each host name, lowercased, and the services listing it in declaration order: found by hash, so resolving
    /// thousands of destinations, or the services of thousands of VirtualServices, is not thousands of scans.
    private var serviceIndex: [String: [Int]]
    /// Each VirtualService's name and its position (the first, should two share one): a root route finds its
    /// `delegate` by hash.
    private var virtualServiceIndex: [ResourceName: Int]
    /// Each DestinationRule's `host` as written, and the rules naming it in declaration order.
    private var ruleIndex: [String: [Int]]

    public init(
        gateways: [Gateway] = [], virtualServices: [VirtualService] = [],
        destinationRules: [DestinationRule] = [], services: [MeshService] = []
    ) {
        self.gateways = gateways
        self.virtualServices = virtualServices
        self.destinationRules = destinationRules
        self.services = services
        self.serviceIndex = Self.index(services)
        self.virtualServiceIndex = Self.index(virtualServices)
        self.ruleIndex = Self.index(destinationRules)
    }

    /// Equal when the resources are: the indexes follow from them, so comparing or hashing them too would only cost.
    public static func == (left: MeshConfig, right: MeshConfig) -> Bool {
        left.gateways == right.gateways && left.virtualServices == right.virtualServices
            && left.destinationRules == right.destinationRules && left.services == right.services
            && left.meshWorkload == right.meshWorkload && left.gatewayLocality == right.gatewayLocality
    }

    /// The workload of the proxy serving `gateway`: for the mesh, `meshWorkload`; for a Gateway, its `selector`'s
    /// labels in its namespace, the least its pods carry (Istio binds a Gateway to the pods its selector picks, and
    /// Serin's gateway is that pod). Nil for a Gateway that does not exist.
    public func workload(of gateway: ResourceName) -> SourceWorkload? {
        if gateway == .mesh { return meshWorkload }
        return gateways.first { $0.name == gateway }.map { SourceWorkload(labels: $0.selector, namespace: $0.name.namespace) }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(gateways)
        hasher.combine(virtualServices)
        hasher.combine(destinationRules)
        hasher.combine(services)
        hasher.combine(meshWorkload)
        hasher.combine(gatewayLocality)
    }

    private static func index(_ virtualServices: [VirtualService]) -> [ResourceName: Int] {
        var index: [ResourceName: Int] = [:]
        for (position, virtualService) in virtualServices.enumerated() where index[virtualService.name] == nil {
            index[virtualService.name] = position
        }
        return index
    }

    /// The VirtualService named `name` (a root route's `delegate`).
    public func virtualService(named name: ResourceName) -> VirtualService? {
        virtualServiceIndex[name].map { virtualServices[$0] }
    }

    private static func index(_ rules: [DestinationRule]) -> [String: [Int]] {
        var index: [String: [Int]] = [:]
        for (position, rule) in rules.enumerated() { index[rule.host, default: []].append(position) }
        return index
    }

    /// The DestinationRules for `host`, in declaration order: those whose `host` is it or another name of the same
    /// Kubernetes Service (`reviews`, `reviews.default.svc.cluster.local`). A ServiceEntry's other hosts are services
    /// of their own, as in Istio: each takes its own rules, never another host's TLS or connection pool.
    /// `namespace`: the namespace of the resource naming `host`, which a bare name is looked up in first.
    public func destinationRules(forHost host: String, from namespace: String? = nil) -> [DestinationRule] {
        // Asked for every route target as a table compiles: names with no rule are passed over before the costlier test.
        guard !destinationRules.isEmpty else { return [] }
        var positions = ruleIndex[host] ?? []
        let service = service(forHost: host, from: namespace)
        for name in service?.hosts ?? [] where name != host {
            guard let named = ruleIndex[name], Self.namesOneKubernetesService(name, host) else { continue }
            positions += named
        }
        // A rule naming a Kubernetes Service's bare name (`host: reviews`) names its own namespace's, as Istio expands
        // the rule's host in the rule's namespace: it leaves another namespace's service of that name alone.
        if let service, !service.namespaceLocalHosts.isEmpty {
            positions.removeAll { position in
                let rule = destinationRules[position]
                return rule.name.namespace != service.name.namespace && service.namespaceLocalHosts.contains(rule.host.lowercased())
            }
        }
        if positions.count < 2 { return positions.map { destinationRules[$0] } }
        return Set(positions).sorted().map { destinationRules[$0] }
    }

    /// Whether `one` and `other` are two of the names a Kubernetes Service answers to: `NAME`, `NAME.NAMESPACE`,
    /// `NAME.NAMESPACE.svc` or `NAME.NAMESPACE.svc.cluster.local`, with one name (and one namespace where both say).
    static func namesOneKubernetesService(_ one: String, _ other: String) -> Bool {
        let hosts = [one.lowercased(), other.lowercased()]
        let labels = hosts.map { $0.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false) }
        guard labels[0][0] == labels[1][0] else { return false }
        // Both bare (`reviews`): the same name. Else the namespace the longer one names, for both.
        guard let namespace = labels.first(where: { $0.count > 1 })?[1] else { return hosts[0] == hosts[1] }
        let names = MeshService.kubernetesHosts(name: String(labels[0][0]), namespace: String(namespace))
        return hosts.allSatisfy(names.contains)
    }

    private static func index(_ services: [MeshService]) -> [String: [Int]] {
        var index: [String: [Int]] = [:]
        for (position, service) in services.enumerated() {
            for host in Set(service.hosts.map { $0.lowercased() }) { index[host, default: []].append(position) }
        }
        return index
    }

    /// The services a VirtualService's host pattern names, in declaration order: each with a host name the pattern
    /// matches (a wildcard may name several, and is the only pattern that scans them).
    public func services(namedBy host: HostPattern) -> [MeshService] {
        guard host.isWildcard else { return (serviceIndex[host.text] ?? []).map { services[$0] } }
        return services.filter { $0.hosts.contains { host.matches($0) } }
    }

    /// The service a destination host names, by any of its host names (case-insensitive): the first declared.
    public func service(forHost host: String) -> MeshService? {
        serviceIndex[host.lowercased()]?.first.map { services[$0] }
    }

    /// The service a destination host names in a resource of `namespace`. A bare name (`reviews`) is the Kubernetes
    /// Service of that namespace, as Istio expands a VirtualService's `reviews` in `shop` to
    /// `reviews.shop.svc.cluster.local`: never another namespace's Service of that name, which is reached as
    /// `reviews.prod`; a ServiceEntry declaring the bare name is everyone's. Any longer name, or no namespace: the
    /// service `service(forHost:)` finds.
    public func service(forHost host: String, from namespace: String?) -> MeshService? {
        guard let namespace, !host.contains(".") else { return service(forHost: host) }
        let bare = host.lowercased()
        if let local = serviceIndex["\(bare).\(namespace.lowercased()).svc.cluster.local"]?.first { return services[local] }
        return serviceIndex[bare]?.lazy.map { services[$0] }.first { $0.hosts(visibleFrom: namespace).contains { $0.lowercased() == bare } }
    }

    /// The Kubernetes Services of other namespaces than `namespace` that a bare `host` would name in their own: what
    /// a resource of `namespace` naming `host` most likely meant, for its error.
    public func services(bareHost host: String, outside namespace: String) -> [MeshService] {
        guard !host.contains(".") else { return [] }
        let bare = host.lowercased()
        return (serviceIndex[bare] ?? []).map { services[$0] }
            .filter { $0.name.namespace != namespace && $0.namespaceLocalHosts.contains { $0.lowercased() == bare } }
    }

    /// The workload serving `destination` (the Deployment its endpoints' labels name, as telemetry's
    /// `destination_workload` reports it): Flagger's `{{ target }}`. Nil when no endpoint names one.
    public func workload(serving destination: Destination) -> String? {
        service(forHost: destination.host)?.endpoints.lazy.compactMap(\.workload).first
    }

    /// The subset `name` of `host`, from the first DestinationRule for that host that defines it.
    public func subset(named name: String, ofHost host: String, from namespace: String? = nil) -> DestinationRule.Subset? {
        for rule in destinationRules(forHost: host, from: namespace) {
            if let subset = rule.subsets.first(where: { $0.name == name }) { return subset }
        }
        return nil
    }
}
