/// Istio's VirtualService: for requests to `hosts` arriving through `gateways`, the ordered HTTP routes.
public struct VirtualService: Hashable, Sendable {
    public var name: ResourceName
    public var hosts: [String]
    /// Gateways this applies to; empty means the mesh only (sidecars), never Serin's gateway.
    public var gateways: [ResourceName]
    public var http: [HTTPRoute]

    public init(name: ResourceName, hosts: [String], gateways: [ResourceName], http: [HTTPRoute]) {
        self.name = name
        self.hosts = hosts
        self.gateways = gateways
        self.http = http
    }
}
