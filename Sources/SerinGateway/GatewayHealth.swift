import Synchronization

/// What the gateway could not take or had to do twice: connections refused over `--max-connections`, accepts the
/// kernel failed or the listeners held back (out of file descriptors, mostly), failed TLS handshakes, and requests
/// sent again because a pooled upstream connection turned out closed. These are the first signs of a gateway at a
/// limit, or of upstreams that close idle connections sooner than the gateway's pool expects, so they are counted for
/// `/metrics` (and the listeners' reported to the log, `GatewayServer.watchListeners`).
public final class GatewayHealth: Sendable {
    private let state = Mutex(Counts())

    /// Totals since the gateway started.
    public struct Counts: Sendable, Equatable {
        /// Connections closed as they were accepted, over `GatewayLimits.maxConnections`.
        public var overflow = 0
        /// Accepts that failed, or were held back to leave the process its `DescriptorReserve`; each pauses accepting
        /// for `GatewayServer.acceptPause`.
        public var acceptFailures = 0
        /// The last accept failure, as the system named it (`Too many open files (errno 24)`), or the reserve's shortage.
        public var lastFailure: String?
        /// Client connections whose TLS handshake failed: no certificate a MUTUAL server asks for, a version or
        /// cipher it refuses, plain HTTP sent to an HTTPS port.
        public var tlsHandshakeFailures = 0
        /// Requests sent again on a new connection because the pooled one they went out on was closed by the
        /// upstream before any answer (and before any of their body went out, so the resend duplicates nothing).
        public var upstreamResends = 0
    }

    public var counts: Counts { state.withLock { $0 } }

    func refusedOverLimit() { state.withLock { $0.overflow += 1 } }

    func tlsHandshakeFailed() { state.withLock { $0.tlsHandshakeFailures += 1 } }

    func resentOnNewConnection() { state.withLock { $0.upstreamResends += 1 } }

    func acceptFailed(_ reason: String) {
        state.withLock { counts in
            counts.acceptFailures += 1
            counts.lastFailure = reason
        }
    }

    /// The counters in Prometheus' text format, beside the open connections' gauge.
    func exposition(open: Int) -> String {
        let counts = self.counts
        return """
            # HELP serin_gateway_downstream_connections_active Client connections open.
            # TYPE serin_gateway_downstream_connections_active gauge
            serin_gateway_downstream_connections_active \(open)
            # HELP serin_gateway_downstream_connections_overflow_total Client connections closed as they were accepted, over --max-connections.
            # TYPE serin_gateway_downstream_connections_overflow_total counter
            serin_gateway_downstream_connections_overflow_total \(counts.overflow)
            # HELP serin_gateway_accept_failures_total Accepts the kernel failed, or held back while fewer file descriptors were free than kept for the admin endpoint and the runtime; each pauses accepting briefly.
            # TYPE serin_gateway_accept_failures_total counter
            serin_gateway_accept_failures_total \(counts.acceptFailures)
            # HELP serin_gateway_downstream_tls_handshake_failures_total Client connections whose TLS handshake failed (a certificate a MUTUAL server needs, a refused version, plain HTTP to an HTTPS port).
            # TYPE serin_gateway_downstream_tls_handshake_failures_total counter
            serin_gateway_downstream_tls_handshake_failures_total \(counts.tlsHandshakeFailures)
            # HELP serin_gateway_upstream_requests_resent_total Requests sent again on a new upstream connection: the pooled one they went out on was closed before any answer.
            # TYPE serin_gateway_upstream_requests_resent_total counter
            serin_gateway_upstream_requests_resent_total \(counts.upstreamResends)

            """
    }
}
