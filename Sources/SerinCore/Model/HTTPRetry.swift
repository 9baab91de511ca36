/// Istio's `HTTPRetry`: how often the gateway tries a failed request again, on which failures, and how long
/// each try may take.
public struct HTTPRetry: Hashable, Sendable, Codable {
    /// Retries after the first try; 0 means none. A route that sets no `retries` still retries under
    /// `istioDefault`, as in Istio (see `RoutePolicy.retries`).
    public var attempts: Int
    /// The time limit of each try; nil leaves each try the route's `timeout`.
    public var perTryTimeout: Duration?
    /// The failures retried, in the order written.
    public var retryOn: [RetryCondition]
    /// Response statuses retried besides those `retryOn` covers: the numbers written in Istio's `retryOn`.
    public var retriableStatusCodes: [Int]
    /// Istio's `backoff`, Envoy's base interval between tries (25ms when nil): retry N waits a jittered time up to
    /// the base doubled N-1 times, never over ten times the base.
    public var backoff: Duration?
    /// Istio's `retryIgnorePreviousHosts`: whether a retry goes to an endpoint not tried yet for the request. Nil
    /// (not written) is Istio's default: yes, unless the destination balances by consistent hash, whose retries stay
    /// with the key's endpoint (`avoidsTriedEndpoints`).
    public var ignorePreviousHosts: Bool?
    /// Istio's `retryRemoteLocalities`: retries leave the locality priority levels already tried (Envoy's
    /// `previous_priorities`, as Istio sets it, every second attempt: `levelsLeftBehind`).
    public var retryRemoteLocalities: Bool

    public init(
        attempts: Int, perTryTimeout: Duration? = nil, retryOn: [RetryCondition] = HTTPRetry.defaultRetryOn,
        retriableStatusCodes: [Int] = HTTPRetry.defaultRetriableStatusCodes, backoff: Duration? = nil,
        ignorePreviousHosts: Bool? = nil, retryRemoteLocalities: Bool = false
    ) {
        self.retryRemoteLocalities = retryRemoteLocalities
        self.backoff = backoff
        self.ignorePreviousHosts = ignorePreviousHosts
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.retryOn = retryOn
        self.retriableStatusCodes = retriableStatusCodes
    }

    /// What is retried when `retryOn` is not written: Istio's default,
    /// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with status 503.
    public static let defaultRetryOn: [RetryCondition] = [.connectFailure, .refusedStream, .unavailable, .cancelled]
    /// The statuses retried when `retryOn` is not written: Istio's 503.
    public static let defaultRetriableStatusCodes: [Int] = [503]

    /// Istio's policy for a route that sets no `retries`: 2 retries on the default conditions.
    public static let istioDefault = HTTPRetry(attempts: 2)

    /// Whether a retry to a destination balanced by consistent hash (`hashed`) or not passes over the endpoints
    /// already tried, as Istio sets Envoy's `previous_hosts` retry predicate.
    public func avoidsTriedEndpoints(hashed: Bool) -> Bool {
        ignorePreviousHosts ?? !hashed
    }

    /// How many of a request's attempts so far (`attempts`, the one just failed included) a retry's locality levels
    /// leave behind, under `retryRemoteLocalities`: Envoy's `previous_priorities` with Istio's update frequency of 2
    /// recomputes the levels' loads when the attempts made are a multiple of 2, leaving out the levels those reached.
    public func levelsLeftBehind(attempts: Int) -> Int {
        retryRemoteLocalities ? attempts / 2 * 2 : 0
    }

    /// Whether a response with `status` from the upstream is retried under this policy (attempts aside).
    public func retries(status: Int) -> Bool {
        if retriableStatusCodes.contains(status) { return true }
        return retryOn.contains { $0.covers(status: status) }
    }

    /// The lowest status `retries(status:)` is true of; `Int.max` when it is true of none.
    public var lowestRetriedStatus: Int {
        let byCondition = retryOn.compactMap(\.statuses).map(\.lowerBound)
        return (retriableStatusCodes + byCondition).min() ?? .max
    }

    /// Whether a gRPC answer without a body (trailers-only) with `grpcStatus` is retried, as Envoy's gRPC
    /// conditions retry only such answers.
    public func retries(grpcStatus: Int) -> Bool {
        retryOn.contains { $0.grpcStatus == grpcStatus }
    }
}

/// A failure Istio's `retryOn` names, spelled as Envoy spells it; the ones Serin's gateway can tell apart.
public enum RetryCondition: String, Hashable, Sendable, Codable, CaseIterable {
    /// Any 5xx response, or no response at all (connect failure, reset, refused stream, read timeout).
    case serverError = "5xx"
    /// A 502, 503 or 504 response, or no response at all.
    case gatewayError = "gateway-error"
    /// A 409 Conflict response, as Envoy's `retriable-4xx` (the one 4xx it retries: an optimistic update that lost a
    /// race may succeed when tried again).
    case retriable4xx = "retriable-4xx"
    /// The connection to the upstream could not be opened (refused, or the connect timeout passed).
    case connectFailure = "connect-failure"
    /// The upstream refused the request before processing it (HTTP/2 REFUSED_STREAM).
    case refusedStream = "refused-stream"
    /// The upstream closed or reset the connection, or did not answer in time, before a response.
    case reset
    /// gRPC answers without a body whose `grpc-status` is CANCELLED (1), DEADLINE_EXCEEDED (4),
    /// RESOURCE_EXHAUSTED (8), INTERNAL (13) or UNAVAILABLE (14).
    case cancelled
    case deadlineExceeded = "deadline-exceeded"
    case resourceExhausted = "resource-exhausted"
    case `internal`
    case unavailable

    /// The gRPC status a gRPC condition names; nil for the HTTP ones.
    public var grpcStatus: Int? {
        switch self {
        case .cancelled: 1
        case .deadlineExceeded: 4
        case .resourceExhausted: 8
        case .internal: 13
        case .unavailable: 14
        case .serverError, .gatewayError, .retriable4xx, .connectFailure, .refusedStream, .reset: nil
        }
    }

    /// The response statuses this condition names; nil for those that name failures without a status.
    public var statuses: ClosedRange<Int>? {
        switch self {
        case .serverError: 500...599
        case .gatewayError: 502...504
        case .retriable4xx: 409...409
        case .connectFailure, .refusedStream, .reset, .cancelled, .deadlineExceeded, .resourceExhausted, .internal, .unavailable: nil
        }
    }

    /// Whether a response with `status` is one of the failures this condition names.
    public func covers(status: Int) -> Bool {
        statuses?.contains(status) ?? false
    }
}
