/// One entry of a VirtualService's `tcp` list (Istio's TCPRoute): plain TCP connections that a match admits go to the
/// weighted destinations. Plain TCP names no server, so a connection is routed by the gateway port it arrived on.
public struct TCPRoute: Hashable, Sendable {
    /// OR of matches; empty: every connection on the gateways' TCP servers.
    public var matches: [L4Match]
    public var destinations: [WeightedDestination]

    public init(matches: [L4Match] = [], destinations: [WeightedDestination]) {
        self.matches = matches
        self.destinations = destinations
    }
}

/// Istio's L4MatchAttributes, as far as a gateway knows them: the port and the gateway a connection arrived on.
public struct L4Match: Hashable, Sendable, SourceMatched {
    /// The gateway port the connection arrived on; nil: any.
    public var port: Int?
    /// Gateways this match applies to; empty: the VirtualService's.
    public var gateways: [ResourceName]
    /// The workloads whose connections the match applies to (`sourceLabels`, `sourceNamespace`); nil: any.
    public var source: SourceCondition?

    public init(port: Int? = nil, gateways: [ResourceName] = [], source: SourceCondition? = nil) {
        self.port = port
        self.gateways = gateways
        self.source = source
    }
}
