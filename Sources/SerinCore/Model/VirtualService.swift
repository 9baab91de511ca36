/// Istio's VirtualService: for requests to `hosts` arriving through `gateways`, the ordered HTTP routes, and the
/// TLS routes that pass encrypted connections through by server name, and the TCP routes that forward plain TCP by port.
public struct VirtualService: Hashable, Sendable {
    public var name: ResourceName
    public var hosts: [String]
    /// Gateways this applies to (`mesh` is not one of them: see `appliesToMesh`).
    public var gateways: [ResourceName]
    /// Whether the mesh's sidecars (Serin's `--mesh` listener) route by it: no `gateways` at all, or `mesh` listed.
    public var appliesToMesh: Bool
    public var http: [HTTPRoute]
    /// `tls`: routes by SNI for the gateways' PASSTHROUGH servers.
    public var tls: [TLSRoute]
    /// `tcp`: routes by port for the gateways' TCP servers.
    public var tcp: [TCPRoute]

    /// `appliesToMesh` defaults to Istio's rule for a VirtualService that lists no gateways.
    public init(
        name: ResourceName, hosts: [String], gateways: [ResourceName], appliesToMesh: Bool? = nil, http: [HTTPRoute], tls: [TLSRoute] = [],
        tcp: [TCPRoute] = []
    ) {
        self.name = name
        self.hosts = hosts
        self.gateways = gateways
        self.appliesToMesh = appliesToMesh ?? gateways.isEmpty
        self.http = http
        self.tls = tls
        self.tcp = tcp
    }
}
