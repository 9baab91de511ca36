import SerinCore

/// Builds the service list one resource at a time, merging entries that share a host.
struct ServiceMerger {
    private(set) var services: [MeshService] = []
    /// Indexes of services whose ports and endpoints already come from a ServiceEntry.
    private var fedByServiceEntry: Set<Int> = []
    /// Each host, lowercased, and the service listing it: an entry finds the services it joins by hash.
    private var serviceIndex: [String: Int] = [:]

    private mutating func indexHosts(of position: Int) {
        for host in services[position].hosts where serviceIndex[host.lowercased()] == nil { serviceIndex[host.lowercased()] = position }
    }

    mutating func add(_ service: KubernetesService) {
        let ports = service.ports.map { port -> ServicePort in
            var targetPort: Int?
            if case .number(let number) = port.targetPort { targetPort = number }
            // A Service's `protocol` is the transport (TCP, UDP); appProtocol and the name say HTTP/2.
            let http2 = ServicePort.selectsHTTP2(protocol: nil, appProtocol: port.appProtocol, name: port.name)
            let opaque = ServicePort.selectsOpaque(protocol: nil, appProtocol: port.appProtocol, name: port.name)
            return ServicePort(number: port.port, name: port.name, targetPort: targetPort, speaksHTTP2: http2, opaque: opaque)
        }
        let hosts = MeshService.kubernetesHosts(name: service.name.name, namespace: service.name.namespace)
        services.append(MeshService(name: service.name, hosts: hosts, ports: ports, endpoints: []))
        indexHosts(of: services.count - 1)
    }

    mutating func add(_ entry: ServiceEntryResource) {
        let matching = Set(entry.hosts.compactMap { serviceIndex[$0.lowercased()] }).sorted()
        guard let target = matching.first else {
            services.append(
                MeshService(
                    name: entry.name, hosts: entry.hosts, ports: entry.ports.map(\.servicePort), endpoints: entry.endpoints,
                    subjectAltNames: entry.subjectAltNames
                )
            )
            fedByServiceEntry.insert(services.count - 1)
            indexHosts(of: services.count - 1)
            return
        }
        var merged = services[target]
        // Further services sharing a host with this entry fold into the first, so no host is listed twice.
        for other in matching.dropFirst() {
            unite(&merged, with: services[other])
        }
        merged.hosts = united(merged.hosts, entry.hosts)
        // A name the entry declares is everyone's, whichever namespace asks.
        let declared = Set(entry.hosts.map { $0.lowercased() })
        merged.namespaceLocalHosts.removeAll { declared.contains($0.lowercased()) }
        merged.subjectAltNames = united(merged.subjectAltNames, entry.subjectAltNames)
        if fedByServiceEntry.contains(target) {
            for port in entry.ports.map(\.servicePort) where !merged.ports.contains(where: { $0.number == port.number }) {
                merged.ports.append(port)
            }
            merged.endpoints += entry.endpoints
        } else {
            merged.ports = entry.ports.map(\.servicePort)
            merged.endpoints = entry.endpoints
        }
        services[target] = merged
        fedByServiceEntry.insert(target)
        for other in matching.dropFirst().reversed() {
            services.remove(at: other)
            fedByServiceEntry = Set(fedByServiceEntry.compactMap { $0 == other ? nil : ($0 > other ? $0 - 1 : $0) })
        }
        if matching.count > 1 {
            // Services moved: index them all again (rare: an entry naming hosts of several services).
            serviceIndex = [:]
            for position in services.indices { indexHosts(of: position) }
        } else {
            indexHosts(of: target)
        }
    }

    private func unite(_ service: inout MeshService, with other: MeshService) {
        service.hosts = united(service.hosts, other.hosts)
        service.namespaceLocalHosts = united(service.namespaceLocalHosts, other.namespaceLocalHosts)
        service.endpoints += other.endpoints
    }

    private func united(_ hosts: [String], _ more: [String]) -> [String] {
        var result = hosts
        for host in more where !result.contains(where: { $0.lowercased() == host.lowercased() }) {
            result.append(host)
        }
        return result
    }
}
