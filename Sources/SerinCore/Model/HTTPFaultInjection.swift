/// Istio's `HTTPFaultInjection`: delays and aborts the gateway injects into a share of a route's requests,
/// to test how callers cope. The delay comes first; an aborted request is never forwarded.
public struct HTTPFaultInjection: Hashable, Sendable, Codable {
    public var delay: Delay?
    public var abort: Abort?

    public init(delay: Delay? = nil, abort: Abort? = nil) {
        self.delay = delay
        self.abort = abort
    }

    /// Wait `fixedDelay` before forwarding, for `percentage` of requests.
    public struct Delay: Hashable, Sendable, Codable {
        public var fixedDelay: Duration
        /// Istio's default, when neither `percentage` nor `percent` is written, is no request.
        public var percentage: Percent

        public init(fixedDelay: Duration, percentage: Percent) {
            self.fixedDelay = fixedDelay
            self.percentage = percentage
        }
    }

    /// Answer `httpStatus` without forwarding, for `percentage` of requests; or, with `grpcStatus`, that gRPC status
    /// (HTTP 200, as gRPC errors always are).
    public struct Abort: Hashable, Sendable, Codable {
        public var httpStatus: Int
        /// `grpcStatus` as its code (`UNAVAILABLE` is 14): a gRPC request is answered with it, trailers-only.
        public var grpcStatus: Int?
        /// Istio's default, when `percentage` is not written, is no request.
        public var percentage: Percent

        public init(httpStatus: Int, percentage: Percent) {
            self.httpStatus = httpStatus
            self.grpcStatus = nil
            self.percentage = percentage
        }

        public init(grpcStatus: Int, percentage: Percent) {
            self.httpStatus = 200
            self.grpcStatus = grpcStatus
            self.percentage = percentage
        }
    }
}
