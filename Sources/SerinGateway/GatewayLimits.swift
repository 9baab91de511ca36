import NIOCore

/// What one client may ask of the gateway and how long it may take: the protections a proxy in front of
/// real traffic needs, with defaults in the spirit of Envoy's and nginx's.
public struct GatewayLimits: Sendable, Hashable {
    /// Longest request target (path and query), in bytes; a longer one is answered 414. Envoy counts the request line
    /// in its 60 KiB header budget, so a target Istio's gateway takes (a long query, a SAML or OIDC redirect's state)
    /// is taken here up to the same size.
    public var maxURIBytes: Int
    /// Largest request header section (every name and value), in bytes; a larger one is answered 431.
    public var maxHeaderBytes: Int
    /// Most request header fields; more are answered 431.
    public var maxHeaderCount: Int
    /// From a request's first byte until its whole head has arrived; a slower client (slow-loris) gets 408
    /// and the connection is closed.
    public var requestHeaderTimeout: TimeAmount
    /// A keep-alive client connection with no request in flight is closed after this long.
    public var idleTimeout: TimeAmount
    /// A tunnel (a WebSocket, a TCP route's connection, a TLS passthrough) with no bytes either way for this long is
    /// closed, unless its DestinationRule's `tcp.idleTimeout` says otherwise: Istio's default for TCP (1 hour), and no
    /// shorter for a WebSocket, whose Envoy stream Istio never times out for silence.
    public var tunnelIdleTimeout: TimeAmount
    /// Open client connections across every listener; connections beyond it are closed as they are accepted.
    public var maxConnections: Int
    /// Time allowed to open a connection to an upstream endpoint.
    public var upstreamConnectTimeout: TimeAmount

    public init(
        maxURIBytes: Int = 60 * 1024, maxHeaderBytes: Int = 60 * 1024, maxHeaderCount: Int = 100,
        requestHeaderTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(60),
        tunnelIdleTimeout: TimeAmount = .hours(1), maxConnections: Int = 16_384, upstreamConnectTimeout: TimeAmount = .seconds(3)
    ) {
        self.tunnelIdleTimeout = tunnelIdleTimeout
        self.maxURIBytes = maxURIBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.requestHeaderTimeout = requestHeaderTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.upstreamConnectTimeout = upstreamConnectTimeout
    }

    public static let `default` = GatewayLimits()
}
