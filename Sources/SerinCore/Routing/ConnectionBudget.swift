/// Istio's `connectionPool` circuit breaking for one cluster: how many upstream connections may be open, how many
/// requests may wait for one, how many requests one connection may carry, and how many may be in flight at once.
/// Pure bookkeeping: the gateway asks before a request goes upstream and before opening a connection, and reports
/// what became of them. `maxConnections` counts connections only, as Envoy's `max_connections` does: an upstream
/// HTTP/2 connection counts once, whatever streams it carries (each counts against `maxRequests`).
///
/// A limit left nil, 0 or negative is no limit: Istio writes 0 as unset and sets Envoy's thresholds to 2^32-1.
public struct ConnectionBudget: Hashable, Sendable {
    public let maxConnections: Int?
    public let maxPendingRequests: Int?
    public let maxRequestsPerConnection: Int?
    /// `http2MaxRequests`: requests in flight at once, over either protocol (Envoy's `max_requests`).
    public let maxRequests: Int?
    /// `maxRetries`: retries outstanding at once (Envoy's `max_retries`).
    public let maxRetries: Int?
    /// `retryBudget`: retries outstanding at once in proportion to the requests in flight; in place of `maxRetries`
    /// when set, as Envoy's `retry_budget` overrides `max_retries`.
    public let retryBudget: RetryBudget?
    /// Requests that have retried and not finished.
    public private(set) var activeRetries = 0
    /// Requests admitted and not finished.
    public private(set) var activeRequests = 0
    /// Upstream connections open or being opened.
    public private(set) var openConnections = 0
    /// Requests waiting for a connection.
    public private(set) var pendingRequests = 0

    public init(
        maxConnections: Int? = nil, maxPendingRequests: Int? = nil, maxRequestsPerConnection: Int? = nil, maxRequests: Int? = nil,
        maxRetries: Int? = nil, retryBudget: RetryBudget? = nil
    ) {
        self.maxRetries = Self.limit(maxRetries)
        self.retryBudget = retryBudget
        self.maxConnections = Self.limit(maxConnections)
        self.maxPendingRequests = Self.limit(maxPendingRequests)
        self.maxRequestsPerConnection = Self.limit(maxRequestsPerConnection)
        self.maxRequests = Self.limit(maxRequests)
    }

    /// The budget a cluster's traffic policy sets (its `connectionPool` and `retryBudget`); none when it sets none.
    public init(_ policy: TrafficPolicy) {
        let settings = policy.connectionPool
        self.init(
            maxConnections: settings?.tcp.maxConnections,
            maxPendingRequests: settings?.http.http1MaxPendingRequests,
            maxRequestsPerConnection: settings?.http.maxRequestsPerConnection, maxRequests: settings?.http.http2MaxRequests,
            maxRetries: settings?.http.maxRetries, retryBudget: policy.retryBudget
        )
    }

    /// Whether anything limits the requests retrying at once (`maxRetries` or `retryBudget`).
    public var limitsRetries: Bool { retryBudget != nil || maxRetries != nil }

    /// What to do with a request that found no idle connection.
    public enum Decision: Hashable, Sendable {
        /// Open a new connection for it; it counts as open from now on.
        case open
        /// Queue it until a connection frees up; it counts as pending from now on.
        case wait
        /// Answer it 503 at once.
        case reject(Overflow)
    }

    /// A request turned away because too many already wait (Envoy's `upstream_rq_pending_overflow`) or are in
    /// flight (`max_requests`, counted in `upstream_rq_pending_overflow` too): response flag `UO`.
    public struct Overflow: Hashable, Sendable, CustomStringConvertible {
        /// Which limit was reached, and its value.
        public enum Limit: Hashable, Sendable {
            case pendingRequests(Int)
            case activeRequests(Int)
        }

        public let limit: Limit

        public init(maxPendingRequests: Int) {
            self.limit = .pendingRequests(maxPendingRequests)
        }

        public init(maxRequests: Int) {
            self.limit = .activeRequests(maxRequests)
        }

        public var responseFlag: String { "UO" }
        public var description: String {
            switch limit {
            case .pendingRequests(let count): "upstream overflow: \(count) \(count == 1 ? "request already waits" : "requests already wait") for a connection"
            case .activeRequests(let count): "upstream overflow: \(count) \(count == 1 ? "request is" : "requests are") already in flight (http2MaxRequests)"
            }
        }
    }

    /// Decides for a request about to go upstream: admitted while fewer than `maxRequests` are in flight (it counts
    /// as active until `requestFinished()`), else overflow.
    public mutating func requestStarted() -> Overflow? {
        if let maxRequests, activeRequests >= maxRequests { return Overflow(maxRequests: maxRequests) }
        activeRequests += 1
        return nil
    }

    /// Whether a request may retry now: fewer requests are retrying than the retry budget allows for the requests in
    /// flight (those waiting for a connection among them, as Envoy counts pending requests in), or without a budget
    /// fewer than `maxRetries`. The gateway asks before an attempt's outcome is decided, so a request that does not
    /// retry after all is never counted.
    public var mayRetry: Bool {
        if let retryBudget { return activeRetries < retryBudget.limit(inFlight: activeRequests) }
        return activeRetries < maxRetries ?? .max
    }

    /// A request retries: it counts as retrying until `retryFinished()` (once per request, however many retries).
    public mutating func retryStarted() {
        activeRetries += 1
    }

    /// A request that retried is over.
    public mutating func retryFinished() {
        activeRetries = max(activeRetries - 1, 0)
    }

    /// An admitted request is over: answered, failed, abandoned, or its tunnel closed.
    public mutating func requestFinished() {
        activeRequests = max(activeRequests - 1, 0)
    }

    /// Decides for a request that found no idle connection: a new connection while fewer than `maxConnections` are
    /// open, else a place in the queue while fewer than `maxPendingRequests` wait, else overflow.
    public mutating func requestConnection() -> Decision {
        if openConnections < maxConnections ?? .max {
            openConnections += 1
            return .open
        }
        if let maxPendingRequests, pendingRequests >= maxPendingRequests {
            return .reject(Overflow(maxPendingRequests: maxPendingRequests))
        }
        pendingRequests += 1
        return .wait
    }

    /// Opens an HTTP/2 connection if fewer than `maxConnections` are open, or if `firstToItsEndpoint` (it counts as open
    /// from now on). As Envoy does, a connection pool gets its first connection to an endpoint even over the limit, so
    /// the open count may pass it by one per pool; otherwise requests never wait in the queue: without room they go on
    /// the connections already open, beyond `maxConcurrentStreams`.
    public mutating func openMultiplexed(firstToItsEndpoint: Bool) -> Bool {
        guard firstToItsEndpoint || openConnections < maxConnections ?? .max else { return false }
        openConnections += 1
        return true
    }

    /// A connection closed, or failed to open.
    public mutating func connectionClosed() {
        openConnections = max(openConnections - 1, 0)
    }

    /// A waiting request got a connection that another request left idle.
    public mutating func pendingServed() {
        pendingRequests = max(pendingRequests - 1, 0)
    }

    /// A waiting request gave up: its client went away or it timed out.
    public mutating func pendingCancelled() {
        pendingRequests = max(pendingRequests - 1, 0)
    }

    /// After a connection closed: whether the first waiting request may open a new one; if so it stops waiting
    /// and the connection counts as open.
    public mutating func openForPending() -> Bool {
        guard pendingRequests > 0, openConnections < maxConnections ?? .max else { return false }
        pendingRequests -= 1
        openConnections += 1
        return true
    }

    /// Whether a connection that has carried `served` requests must close rather than carry another.
    public func shouldRetire(afterRequests served: Int) -> Bool {
        guard let maxRequestsPerConnection else { return false }
        return served >= maxRequestsPerConnection
    }

    private static func limit(_ value: Int?) -> Int? {
        guard let value, value > 0 else { return nil }
        return value
    }
}
