/// Istio's `TrafficPolicy`, on a DestinationRule or one of its subsets: the limits and ejection rules for the
/// connections the gateway opens to a cluster. A section left nil means the gateway's defaults.
public struct TrafficPolicy: Hashable, Sendable, Codable {
    public var connectionPool: ConnectionPoolSettings?
    public var outlierDetection: OutlierDetection?
    /// How the gateway's connections to the cluster use TLS; nil: plain TCP.
    public var tls: ClientTLS?
    /// How requests are spread over the endpoints; nil: in turn.
    public var loadBalancer: LoadBalancerSettings?
    /// `retryBudget`: how many requests may be retrying at once, in proportion to the requests in flight; nil: only
    /// `connectionPool.http.maxRetries` limits them. Not one of the sections a port's entry replaces.
    public var retryBudget: RetryBudget?
    /// `proxyProtocol`: each connection to the endpoints starts with a PROXY protocol header naming the client's
    /// address, in this version; nil: none. Like the retry budget, not one of the sections a port's entry replaces.
    public var proxyProtocol: ProxyProtocolVersion?
    /// `tunnel`: TCP and TLS connections to the endpoints (a forward proxy) are carried inside an HTTP `CONNECT` to
    /// `targetHost:targetPort`; nil: straight. Like `proxyProtocol`, not one of the sections a port's entry replaces.
    public var tunnel: TunnelSettings?
    /// `portLevelSettings`: policies for one port of the host each, in place of the four sections above for
    /// connections to that port (`forPort(_:)`).
    public var portLevelSettings: [PortTrafficPolicy]

    /// One entry of `portLevelSettings`: the policy for connections to the service port `port`. Its own
    /// `portLevelSettings` is always empty.
    public struct PortTrafficPolicy: Hashable, Sendable, Codable {
        public var port: Int
        public var policy: TrafficPolicy

        public init(port: Int, policy: TrafficPolicy) {
            self.port = port
            self.policy = policy
        }
    }

    public init(
        connectionPool: ConnectionPoolSettings? = nil, outlierDetection: OutlierDetection? = nil, tls: ClientTLS? = nil,
        loadBalancer: LoadBalancerSettings? = nil, retryBudget: RetryBudget? = nil, proxyProtocol: ProxyProtocolVersion? = nil,
        tunnel: TunnelSettings? = nil, portLevelSettings: [PortTrafficPolicy] = []
    ) {
        self.proxyProtocol = proxyProtocol
        self.tunnel = tunnel
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
        self.tls = tls
        self.loadBalancer = loadBalancer
        self.retryBudget = retryBudget
        self.portLevelSettings = portLevelSettings
    }

    /// Whether no section is set, for any port.
    public var isEmpty: Bool {
        connectionPool == nil && outlierDetection == nil && tls == nil && loadBalancer == nil && retryBudget == nil
            && proxyProtocol == nil && tunnel == nil && portLevelSettings.isEmpty
    }

    /// The policy for connections to service port `port`, as Istio reads it: the first `portLevelSettings` entry for
    /// the port replaces the policy whole, so a section it leaves out is the gateway's default, not this policy's,
    /// and the policy's `retryBudget` and `proxyProtocol` do not apply there either (`portLevel` true; Istio copies
    /// only the four sections from a port's entry); without one, this policy. Either way without `portLevelSettings`.
    public func forPort(_ port: Int?) -> (policy: TrafficPolicy, portLevel: Bool) {
        if let port, let entry = portLevelSettings.first(where: { $0.port == port }) {
            return (entry.policy, true)
        }
        var policy = self
        policy.portLevelSettings = []
        return (policy, false)
    }

    /// This policy (a subset's) over `base` (its DestinationRule's), as Istio's `MergeTrafficPolicy` merges them: each
    /// section this policy sets replaces base's whole section, and the others are base's; with `portLevel` (this
    /// policy is the subset's entry for the port) the four sections are this policy's alone, set or not. The retry
    /// budget and the PROXY protocol version are this policy's when it sets them, else base's, either way. Neither's
    /// `portLevelSettings` is kept: merge the policies `forPort(_:)` gives.
    public func merged(over base: TrafficPolicy, portLevel: Bool = false) -> TrafficPolicy {
        TrafficPolicy(
            connectionPool: portLevel ? connectionPool : connectionPool ?? base.connectionPool,
            outlierDetection: portLevel ? outlierDetection : outlierDetection ?? base.outlierDetection,
            tls: portLevel ? tls : tls ?? base.tls,
            loadBalancer: portLevel ? loadBalancer : loadBalancer ?? base.loadBalancer,
            retryBudget: retryBudget ?? base.retryBudget,
            proxyProtocol: proxyProtocol ?? base.proxyProtocol,
            tunnel: tunnel ?? base.tunnel
        )
    }
}

/// Istio's `tunnel`: the endpoints are a forward proxy, and each TCP or TLS connection through them is opened with
/// `CONNECT targetHost:targetPort HTTP/1.1`, its bytes passed once the proxy answers 2xx, as Envoy's TCP proxy
/// `tunneling_config` does.
public struct TunnelSettings: Hashable, Sendable, Codable {
    /// `targetHost`: the host the proxy connects to (a name or an IP address).
    public var targetHost: String
    /// `targetPort`: its port.
    public var targetPort: Int

    public init(targetHost: String, targetPort: Int) {
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    /// Whether `text` can be a `targetHost`, as Istio checks it: an IP address, or a name of dot-separated labels of
    /// letters, digits and inner hyphens, at most 63 bytes a label and 255 in all.
    public static func isHost(_ text: String) -> Bool {
        if text.contains(":") { return text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && text.count >= 2 }
        guard !text.isEmpty, text.utf8.count <= 255 else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            return label.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-")
            }
        }
    }

    /// `host:port` as a CONNECT request names it (an IPv6 address in brackets).
    public var authority: String {
        targetHost.contains(":") ? "[\(targetHost)]:\(targetPort)" : "\(targetHost):\(targetPort)"
    }
}

/// Istio's `proxyProtocol.version`: the PROXY protocol (HAProxy's) header a connection to the endpoints begins with,
/// so a backend behind the gateway learns the client's address even where no HTTP header can carry it (a TCP route,
/// a TLS passthrough).
public enum ProxyProtocolVersion: String, Hashable, Sendable, Codable, CaseIterable {
    /// Version 1: one line of text, `PROXY TCP4 <client> <gateway> <client port> <gateway port>`.
    case v1 = "V1"
    /// Version 2: the same in binary.
    case v2 = "V2"
}

/// Istio's `retryBudget` (Envoy's `retry_budget` circuit breaker): a cluster lets at most `percent` of the requests
/// in flight to it be retrying at once, and never fewer than `minRetryConcurrency`, so that when an upstream fails
/// retries cannot multiply its load. Where it is set, it takes the place of `connectionPool.http.maxRetries`.
public struct RetryBudget: Hashable, Sendable, Codable {
    /// `percent`: retrying requests allowed, as a percentage of the requests in flight; Istio's default 20.
    public var percent: Double
    /// `minRetryConcurrency`: retrying requests always allowed, however few are in flight; Istio's default 3.
    public var minRetryConcurrency: Int

    public init(percent: Double = 20, minRetryConcurrency: Int = 3) {
        self.percent = percent
        self.minRetryConcurrency = minRetryConcurrency
    }

    /// The requests that may be retrying at once while `inFlight` are in flight (those retrying among them), as
    /// Envoy counts it: the percentage rounded down, and at least `minRetryConcurrency`.
    public func limit(inFlight: Int) -> Int {
        max(minRetryConcurrency, Int((percent / 100 * Double(inFlight)).rounded(.down)))
    }
}

/// Istio's `ConnectionPoolSettings`: limits on a cluster's connections and queued requests. A limit left nil is
/// the gateway's default: no limit for counts (Istio reads a written 0 as unset too), 10s to connect, no idle timeout.
public struct ConnectionPoolSettings: Hashable, Sendable, Codable {
    public var tcp: TCPSettings
    public var http: HTTPSettings

    /// The idle timeout of an HTTP connection to the cluster, as Istio falls back: `http.idleTimeout`, else
    /// `tcp.idleTimeout`; `.zero` when that turns it off, nil when neither is written.
    public var httpIdleTimeout: Duration? { http.idleTimeout ?? tcp.idleTimeout }

    public init(tcp: TCPSettings = TCPSettings(), http: HTTPSettings = HTTPSettings()) {
        self.tcp = tcp
        self.http = http
    }

    /// Istio's `connectionPool.tcp`.
    public struct TCPSettings: Hashable, Sendable, Codable {
        /// Connections open at once to the whole cluster.
        public var maxConnections: Int?
        /// How long opening one connection may take.
        public var connectTimeout: Duration?
        /// `tcpKeepalive`: the kernel probes an idle connection, so one a middlebox or a crashed host dropped is
        /// found and closed rather than kept as if open.
        public var tcpKeepalive: TCPKeepalive?
        /// `maxConnectionDuration`: how old a connection may grow. An HTTP connection takes no request after it and
        /// closes once its last is answered; a TCP route's connection is closed at it.
        public var maxConnectionDuration: Duration?
        /// `idleTimeout`: how long a connection may pass no bytes. For HTTP it stands in for `http.idleTimeout` when
        /// that is not set; a TCP route's connection is closed after it. Zero turns it off, as Istio reads `0s`.
        public var idleTimeout: Duration?

        public init(
            maxConnections: Int? = nil, connectTimeout: Duration? = nil, tcpKeepalive: TCPKeepalive? = nil,
            maxConnectionDuration: Duration? = nil, idleTimeout: Duration? = nil
        ) {
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
            self.tcpKeepalive = tcpKeepalive
            self.maxConnectionDuration = maxConnectionDuration
            self.idleTimeout = idleTimeout
        }
    }

    /// Istio's `tcpKeepalive`: SO_KEEPALIVE on every connection to the cluster, with what is left out the
    /// operating system's own (Linux: 2 hours, 75 seconds, 9 probes).
    public struct TCPKeepalive: Hashable, Sendable, Codable {
        /// `probes`: unanswered probes before the connection is dropped.
        public var probes: Int?
        /// `time`: how long a connection is idle before the first probe; whole seconds, as the kernel counts them.
        public var time: Duration?
        /// `interval`: between probes; whole seconds.
        public var interval: Duration?

        public init(probes: Int? = nil, time: Duration? = nil, interval: Duration? = nil) {
            self.probes = probes
            self.time = time
            self.interval = interval
        }
    }

    /// Istio's `connectionPool.http`.
    public struct HTTPSettings: Hashable, Sendable, Codable {
        /// Requests waiting for a connection; more are answered 503 at once.
        public var http1MaxPendingRequests: Int?
        /// Requests sent on one connection before it is closed; 1 turns keep-alive off.
        public var maxRequestsPerConnection: Int?
        /// How long a connection may stay unused before it is closed.
        public var idleTimeout: Duration?
        /// `h2UpgradePolicy`: `true` for UPGRADE (requests go upstream over HTTP/2), `false` for DO_NOT_UPGRADE,
        /// nil for DEFAULT (the port's protocol decides).
        public var upgradesToHTTP2: Bool?
        /// `http2MaxRequests`: requests in flight to the whole cluster at once, over either protocol (Envoy's
        /// `max_requests` circuit breaker); more are answered 503 `UO` at once.
        public var http2MaxRequests: Int?
        /// `useClientProtocol`: requests go upstream in the protocol they came in (HTTP/2 stays HTTP/2, HTTP/1 stays
        /// HTTP/1), whatever the port speaks; `h2UpgradePolicy` is then ignored, as in Istio. Nil is false.
        public var usesClientProtocol: Bool?
        /// `maxConcurrentStreams`: streams one upstream HTTP/2 connection carries at once (Envoy's
        /// `max_concurrent_streams`); a request finding every connection to its endpoint full opens another.
        public var maxConcurrentStreams: Int?
        /// `maxRetries`: retries outstanding to the whole cluster at once (Envoy's `max_retries` circuit breaker); a
        /// request that would retry beyond it is answered as its last attempt ended, not retried.
        public var maxRetries: Int?

        public init(
            http1MaxPendingRequests: Int? = nil, maxRequestsPerConnection: Int? = nil, idleTimeout: Duration? = nil,
            upgradesToHTTP2: Bool? = nil, http2MaxRequests: Int? = nil, usesClientProtocol: Bool? = nil,
            maxConcurrentStreams: Int? = nil, maxRetries: Int? = nil
        ) {
            self.maxRetries = maxRetries
            self.maxConcurrentStreams = maxConcurrentStreams
            self.http1MaxPendingRequests = http1MaxPendingRequests
            self.maxRequestsPerConnection = maxRequestsPerConnection
            self.idleTimeout = idleTimeout
            self.upgradesToHTTP2 = upgradesToHTTP2
            self.http2MaxRequests = http2MaxRequests
            self.usesClientProtocol = usesClientProtocol
        }
    }
}

/// Istio's `OutlierDetection`: endpoints that fail in a row are ejected from the cluster's load balancing for a
/// while. Omitted fields take Istio's defaults, which the initializer's defaults are.
public struct OutlierDetection: Hashable, Sendable, Codable {
    /// 5xx responses (and connect failures) in a row that eject an endpoint; 0 turns this check off.
    public var consecutive5xxErrors: Int
    /// 502, 503 and 504 responses (and connect failures) in a row that eject an endpoint; 0, the default, turns
    /// this check off.
    public var consecutiveGatewayErrors: Int
    /// How often ejections are decided.
    public var interval: Duration
    /// How long the first ejection lasts; each further ejection of the same endpoint lasts one more of these.
    public var baseEjectionTime: Duration
    /// The most endpoints of the cluster ejected at once, in percent.
    public var maxEjectionPercent: Int
    /// Below this share of endpoints in, in percent, ejections are ignored and every endpoint takes requests
    /// (Envoy's panic mode). Istio's default, 0, never ignores them: with every endpoint out, requests get 503.
    public var minHealthPercent: Int
    /// `splitExternalLocalOriginErrors`: the gateway's own failures to reach an endpoint (a connect that fails, a
    /// reset, a timeout) count on their own streak, `consecutiveLocalOriginFailures`, rather than as the 5xx it
    /// answers them with; the 5xx streaks then count only the endpoint's own answers.
    public var splitExternalLocalOriginErrors: Bool
    /// `consecutiveLocalOriginFailures`: local-origin failures in a row that eject an endpoint, when split.
    public var consecutiveLocalOriginFailures: Int

    public init(
        consecutive5xxErrors: Int = 5, consecutiveGatewayErrors: Int = 0, interval: Duration = .seconds(10),
        baseEjectionTime: Duration = .seconds(30), maxEjectionPercent: Int = 10, minHealthPercent: Int = 0,
        splitExternalLocalOriginErrors: Bool = false, consecutiveLocalOriginFailures: Int = 5
    ) {
        self.splitExternalLocalOriginErrors = splitExternalLocalOriginErrors
        self.consecutiveLocalOriginFailures = consecutiveLocalOriginFailures
        self.consecutive5xxErrors = consecutive5xxErrors
        self.consecutiveGatewayErrors = consecutiveGatewayErrors
        self.interval = interval
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
        self.minHealthPercent = minHealthPercent
    }
}
