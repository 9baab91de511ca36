import SerinCore

/// Istio's ServiceEntry: in embedded mode, the only place that says where a service really
/// lives (its STATIC endpoints), since there is no Kubernetes to ask.
public struct ServiceEntryResource: Hashable, Sendable {
    public var name: ResourceName
    public var hosts: [String]
    public var addresses: [String]
    public var ports: [Port]
    public var location: Location
    public var resolution: Resolution
    public var endpoints: [ServiceEndpoint]
    /// Names the endpoints' certificates must carry one of, where a DestinationRule's `tls` sets `sni` and no
    /// `subjectAltNames` of its own.
    public var subjectAltNames: [String]

    /// A port the entry exposes; endpoints map its `name` to the port they listen on.
    public struct Port: Hashable, Sendable {
        public var number: Int
        public var name: String
        public var `protocol`: String?
        public var targetPort: Int?

        public init(number: Int, name: String, protocol: String? = nil, targetPort: Int? = nil) {
            self.number = number
            self.name = name
            self.protocol = `protocol`
            self.targetPort = targetPort
        }

        /// The canonical model's view of this port.
        public var servicePort: ServicePort {
            ServicePort(
                number: number, name: name, targetPort: targetPort,
                speaksHTTP2: ServicePort.selectsHTTP2(protocol: self.protocol, appProtocol: nil, name: name),
                opaque: ServicePort.selectsOpaque(protocol: self.protocol, appProtocol: nil, name: name)
            )
        }
    }

    /// Whether the service is part of the mesh (Istio's `location`).
    public enum Location: String, Hashable, Sendable, CaseIterable {
        case meshExternal = "MESH_EXTERNAL"
        case meshInternal = "MESH_INTERNAL"
    }

    /// How endpoints are found; the embedded gateway only uses STATIC endpoints.
    public enum Resolution: String, Hashable, Sendable, CaseIterable {
        case none = "NONE"
        case `static` = "STATIC"
        case dns = "DNS"
        case dnsRoundRobin = "DNS_ROUND_ROBIN"
    }

    public init(
        name: ResourceName, hosts: [String], addresses: [String] = [], ports: [Port],
        location: Location = .meshExternal, resolution: Resolution = .none, endpoints: [ServiceEndpoint] = [],
        subjectAltNames: [String] = []
    ) {
        self.subjectAltNames = subjectAltNames
        self.name = name
        self.hosts = hosts
        self.addresses = addresses
        self.ports = ports
        self.location = location
        self.resolution = resolution
        self.endpoints = endpoints
    }
}
