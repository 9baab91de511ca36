extension RouteTable {
    /// The mesh's listeners, one per service port, as Istio's sidecars build their outbound routes: a VirtualService
    /// bound to the mesh with http routes serves its hosts (and every name of the service a host names) on each HTTP
    /// port of that service, or on port 80 when the host names no known service; any other name and HTTP port of a
    /// known service goes straight to the service's endpoints. A port the mesh does not read (`ServicePort.opaque`)
    /// has no HTTP routes: its own listener carries it (`meshTCP`, `meshTLS`).
    static func meshListeners(compiling config: MeshConfig) -> [Int: Listener] {
        var hosts = VirtualHostCollector()
        // As Istio's sidecars: a name and port the first VirtualService took is its alone (no merge, unlike a gateway's).
        var owners: [String: ResourceName] = [:]
        for virtualService in config.virtualServices where virtualService.appliesToMesh && !virtualService.http.isEmpty {
            var routes = ListenerRoutes(virtualService, boundTo: [.mesh], in: config)
            // Every route left out (each names other source workloads): as a sidecar, the hosts go to their services.
            guard !routes.portless.isEmpty else { continue }
            for (port, name) in meshNames(of: virtualService, in: config) {
                let key = "\(port) \(name.text)"
                guard owners[key] == nil || owners[key] == virtualService.name else { continue }
                if owners.updateValue(virtualService.name, forKey: key) == nil { hosts.add(routes.at(port), host: name, port: port) }
            }
        }
        for service in config.services {
            let visible = service.hosts(visibleFrom: config.meshWorkload.namespace).map(HostPattern.init)
            for port in service.ports where port.opaque == nil {
                let names = visible.filter { !hosts.contains($0, port: port.number) }
                // Istio's default outbound route carries the mesh's default retry policy, as a VirtualService's does.
                guard !names.isEmpty,
                    let direct = Self.directRoute(to: service, port: port, section: "http", policy: RoutePolicy(retries: .istioDefault), in: config)
                else { continue }
                for name in names { hosts.add([direct], host: name, port: port.number) }
            }
        }
        return hosts.listeners(servedBy: [ServerBinding(gateway: .mesh, hosts: [HostPattern("*")])])
    }

    /// The names and ports a mesh-bound VirtualService's hosts claim, in order: each host on each HTTP port of the
    /// services it names (80 for a host no service has), and an exact host's service under all the service's names
    /// that the mesh's workload reaches it by (a bare name only from the service's own namespace).
    static func meshNames(of virtualService: VirtualService, in config: MeshConfig) -> [(port: Int, name: HostPattern)] {
        var claimed: [(port: Int, name: HostPattern)] = []
        var seen = Set<String>()
        let meshNamespace = config.meshWorkload.namespace
        for host in virtualService.hosts.map(HostPattern.init) {
            var services = config.services(namedBy: host)
            // A bare host names the service of the VirtualService's own namespace, as Istio expands it
            // (`reviews` in shop: reviews.shop.svc.cluster.local), where two namespaces have one of that name.
            if !host.isWildcard, !host.text.contains("."), services.count > 1,
                let own = services.first(where: { $0.name.namespace == virtualService.name.namespace })
            {
                services = [own]
            }
            let ports = services.isEmpty ? [80] : Set(services.flatMap { $0.ports.filter { $0.opaque == nil }.map(\.number) }).sorted()
            // An exact host names a service, which answers to all its names; a wildcard is its own name.
            let visible = services.flatMap { $0.hosts(visibleFrom: meshNamespace) }
            let written = host.text.lowercased()
            let hidden = !host.isWildcard && !services.isEmpty && !visible.contains { $0.lowercased() == written }
            let names = host.isWildcard ? [host] : (hidden ? [] : [host]) + visible.map(HostPattern.init)
            for port in ports {
                for name in names where seen.insert("\(port) \(name.text)").inserted { claimed.append((port, name)) }
            }
        }
        return claimed
    }

    /// Mesh-bound VirtualServices that claim a name and port an earlier one took: as Istio's sidecars keep the first
    /// and drop the later one's (its analyzer's IST0109), the later one's routes do not apply there.
    public static func meshHostConflicts(in config: MeshConfig) -> [(later: ResourceName, earlier: ResourceName, host: String, port: Int)] {
        var owners: [String: ResourceName] = [:]
        var conflicts: [(later: ResourceName, earlier: ResourceName, host: String, port: Int)] = []
        for virtualService in config.virtualServices where virtualService.appliesToMesh && !virtualService.http.isEmpty {
            var reported = Set<ResourceName>()
            for (port, name) in meshNames(of: virtualService, in: config) {
                let key = "\(port) \(name.text)"
                if let earlier = owners[key], earlier != virtualService.name {
                    if reported.insert(earlier).inserted { conflicts.append((virtualService.name, earlier, name.text, port)) }
                } else {
                    owners[key] = virtualService.name
                }
            }
        }
        return conflicts
    }

    /// The name of a mesh route no VirtualService wrote: a known service's port, straight to its endpoints.
    public static let directRouteName = "no VirtualService: straight to the service"
}

/// Virtual hosts gathered per port while compiling: the routes of every VirtualService that declares a host, in
/// manifest order, found by host in one lookup however many there are.
struct VirtualHostCollector {
    private var entries: [Int: [(pattern: HostPattern, routes: [RouteTable.Route])]] = [:]
    private var slots: [Int: [HostPattern: Int]] = [:]

    var ports: Dictionary<Int, [(pattern: HostPattern, routes: [RouteTable.Route])]>.Keys { entries.keys }

    func contains(_ host: HostPattern, port: Int) -> Bool { slots[port]?[host] != nil }

    mutating func add(_ routes: [RouteTable.Route], host: HostPattern, port: Int) {
        if let slot = slots[port]?[host] {
            entries[port]![slot].routes += routes
        } else {
            slots[port, default: [:]][host] = entries[port, default: []].count
            entries[port, default: []].append((host, routes))
        }
    }

    /// A listener per port gathered, each with `servers` (the mesh's one binding) and that port's virtual hosts.
    func listeners(servedBy servers: [RouteTable.ServerBinding]) -> [Int: RouteTable.Listener] {
        Dictionary(uniqueKeysWithValues: ports.map { port in
            (port, RouteTable.Listener(port: port, servers: servers, virtualHosts: virtualHosts(onPort: port)))
        })
    }

    /// Most specific pattern first; a stable sort, so equally specific patterns keep manifest order.
    func virtualHosts(onPort port: Int) -> [RouteTable.VirtualHost] {
        (entries[port] ?? []).enumerated()
            .sorted { ($0.element.pattern.specificity, -$0.offset) > ($1.element.pattern.specificity, -$1.offset) }
            .map { RouteTable.VirtualHost(pattern: $0.element.pattern, routes: $0.element.routes) }
    }
}
