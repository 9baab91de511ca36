/// A service destinations can name: a Kubernetes Service or an Istio ServiceEntry, merged by host.
///
/// In embedded mode only ServiceEntry endpoints say where a service really lives;
/// a Kubernetes Service alone resolves the name but has no endpoints.
public struct MeshService: Hashable, Sendable {
    public var name: ResourceName
    /// Every host name that reaches it: `web-v1-service`, `web-v1-service.default.svc.cluster.local`...
    public var hosts: [String]
    public var ports: [ServicePort]
    public var endpoints: [ServiceEndpoint]
    /// A ServiceEntry's `subjectAltNames`: what its endpoints' certificates may name, where a DestinationRule's
    /// `tls` sets `sni` without names of its own (`Cluster` applies them).
    public var subjectAltNames: [String]
    /// Hosts only a workload in the service's own namespace reaches it by: a Kubernetes Service's bare name
    /// (`reviews`), as Istio gives a sidecar in another namespace `reviews.default` and longer only. A ServiceEntry's
    /// hosts are everyone's, so a bare name one declares too is not here.
    public var namespaceLocalHosts: [String]

    /// `namespaceLocalHosts` nil: a Kubernetes Service's bare name when `hosts` has its cluster name, else none.
    public init(
        name: ResourceName, hosts: [String], ports: [ServicePort], endpoints: [ServiceEndpoint], subjectAltNames: [String] = [],
        namespaceLocalHosts: [String]? = nil
    ) {
        self.name = name
        self.hosts = hosts
        self.ports = ports
        self.endpoints = endpoints
        self.subjectAltNames = subjectAltNames
        self.namespaceLocalHosts = namespaceLocalHosts
            ?? (hosts.contains("\(name.name).\(name.namespace).svc.cluster.local") ? [name.name] : [])
    }

    /// The hosts a workload in `namespace` reaches this service by.
    public func hosts(visibleFrom namespace: String) -> [String] {
        guard namespace != name.namespace, !namespaceLocalHosts.isEmpty else { return hosts }
        let local = Set(namespaceLocalHosts.map { $0.lowercased() })
        return hosts.filter { !local.contains($0.lowercased()) }
    }

    /// The names a Kubernetes Service `name` in `namespace` answers to inside the cluster.
    public static func kubernetesHosts(name: String, namespace: String) -> [String] {
        [name, "\(name).\(namespace)", "\(name).\(namespace).svc", "\(name).\(namespace).svc.cluster.local"]
    }
}
