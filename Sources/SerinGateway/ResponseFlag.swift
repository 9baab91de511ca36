/// How a proxied request ended, as Envoy flags it in `response_flags`: one typed value where the gateway decides,
/// Envoy's short string (`UF`, `NR`, `-`…) where telemetry and `/metrics` print it, so Istio dashboards and
/// Flagger queries read Serin's series unchanged.
public enum ResponseFlag: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// `-`: nothing went wrong on the proxy's side (the status may still be an error from the upstream).
    case noFlag = "-"
    /// `NR`: no route matched the request.
    case noRoute = "NR"
    /// `UH`: the route has no destination, or its cluster no endpoint that is not ejected.
    case noHealthyUpstream = "UH"
    /// `UF`: the connection to the upstream could not be made.
    case upstreamConnectionFailure = "UF"
    /// `UC`: the upstream closed the connection before its answer ended.
    case upstreamConnectionTermination = "UC"
    /// `UT`: the route's timeout, or a try's, passed before the answer.
    case upstreamRequestTimeout = "UT"
    /// `UO`: the cluster's circuit breaker (connection pool limits) turned the request away.
    case upstreamOverflow = "UO"
    /// `UPE`: the upstream answered, but not in HTTP.
    case upstreamProtocolError = "UPE"
    /// `DC`: the client closed its connection before the answer ended.
    case downstreamConnectionTermination = "DC"
    /// `DR`: the client reset its HTTP/2 stream (RST_STREAM, as a cancelled gRPC call does) before the answer ended.
    case downstreamRemoteReset = "DR"
    /// `DPE`: the client's request was malformed or over the gateway's limits.
    case downstreamProtocolError = "DPE"
    /// `FI`: a fault abort answered instead of the upstream.
    case faultInjected = "FI"
    /// `DI`: a fault delay held the request before it went upstream.
    case delayInjected = "DI"

    /// Envoy's short string.
    public var description: String { rawValue }

    /// The client gave up on the request (`DC`, `DR`): no verdict on the upstream, so not counted in its success rate
    /// or latency.
    public var clientGaveUp: Bool { self == .downstreamConnectionTermination || self == .downstreamRemoteReset }
}
