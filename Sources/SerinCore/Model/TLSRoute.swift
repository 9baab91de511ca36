/// One entry of a VirtualService's `tls` list (Istio's TLSRoute): TLS connections whose ClientHello names one of
/// a match's `sniHosts` go, still encrypted, to the weighted destinations. The gateway reads only the server name;
/// the backend terminates TLS.
public struct TLSRoute: Hashable, Sendable {
    /// OR of matches; Istio requires at least one.
    public var matches: [TLSMatch]
    public var destinations: [WeightedDestination]

    public init(matches: [TLSMatch], destinations: [WeightedDestination]) {
        self.matches = matches
        self.destinations = destinations
    }
}

/// Istio's TLSMatchAttributes, as far as a gateway knows them: the server name, the port and the gateway a
/// connection arrived on.
public struct TLSMatch: Hashable, Sendable, SourceMatched {
    /// Server names (SNI) this match admits: exact or `*.suffix`, each covered by the VirtualService's hosts.
    public var sniHosts: [String]
    /// The gateway port the connection arrived on; nil: any.
    public var port: Int?
    /// Gateways this match applies to; empty: the VirtualService's.
    public var gateways: [ResourceName]
    /// The workloads whose connections the match applies to (`sourceLabels`, `sourceNamespace`); nil: any.
    public var source: SourceCondition?

    public init(sniHosts: [String], port: Int? = nil, gateways: [ResourceName] = [], source: SourceCondition? = nil) {
        self.sniHosts = sniHosts
        self.port = port
        self.gateways = gateways
        self.source = source
    }
}
