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

    public init(
        name: ResourceName, hosts: [String], ports: [ServicePort], endpoints: [ServiceEndpoint], subjectAltNames: [String] = []
    ) {
        self.name = name
        self.hosts = hosts
        self.ports = ports
        self.endpoints = endpoints
        self.subjectAltNames = subjectAltNames
    }

    /// The names a Kubernetes Service `name` in `namespace` answers to inside the cluster.
    public static func kubernetesHosts(name: String, namespace: String) -> [String] {
        [name, "\(name).\(namespace)", "\(name).\(namespace).svc", "\(name).\(namespace).svc.cluster.local"]
    }
}
