import NIOCore
import SerinCore

/// The clocks of a client connection: closes connections that sit idle too long between requests, and
/// answers 408 to a request whose head trickles in slower than the header timeout (slow-loris). A TLS handshake
/// must finish within the header timeout too, and an upgraded tunnel (WebSocket) with no bytes either way for the
/// idle timeout is closed.
///
/// The proxy tells it when bytes arrive (`bytesArrived`: the first ones after an exchange start a request),
/// when the head is complete (`headReceived`) and when the exchange is over (`exchangeEnded`).
/// It arms no timer per request: it notes when its phase began, and its loop's sweep (`expire(now:)`,
/// a few times per timeout) closes what has overstayed — per-request timers cost heap and timerfd work.
final class ConnectionDeadlines {
    private enum Phase {
        /// A TLS connection's handshake is under way: no request can start before it ends.
        case handshaking
        /// No request in flight: waiting for the first byte of the next one.
        case idle
        /// A request's first bytes arrived; its head is not complete yet.
        case readingHead
        /// The head arrived; the proxy owns the connection until the exchange ends.
        case exchanging
        /// The connection switched protocols; `since` is when bytes last passed either way, noted by the sweep.
        case tunnelling
        case closed
    }

    private let limits: GatewayLimits
    /// How long the connection may wait between requests: the idle timeout, until a drain shortens it.
    private var idleLimit: TimeAmount
    private var phase = Phase.idle
    private var since = NIODeadline.now()
    private var client: ClientSide?
    /// Bytes passed through the tunnel since the last sweep: the sweep moves `since` rather than every read
    /// reading the clock.
    private var trafficSinceSweep = false
    /// How long the tunnel may pass no bytes: the idle timeout, or a TCP route's own; nil for none.
    private var tunnelIdleLimit: TimeAmount?
    /// When a TCP route's `maxConnectionDuration` ends the tunnel, whatever passes through it.
    private var tunnelEnds: NIODeadline?

    /// `handshaking` for a TLS connection, whose first bytes are a handshake the proxy never sees.
    init(limits: GatewayLimits, handshaking: Bool = false) {
        self.limits = limits
        self.idleLimit = limits.idleTimeout
        if handshaking { phase = .handshaking }
    }

    /// How long a connection between requests stays open once a drain begins. Closing it at once races the
    /// client's next request, already on its way (which then fails with nothing sent back); kept open, that request
    /// is answered with `connection: close`. A connection quiet for this long is closed while the client is quiet too.
    static let drainIdleGrace: TimeAmount = .seconds(1)

    /// A drain began: from now on the connection closes after `drainIdleGrace` with no request (counted from now if
    /// it is idle already), where it waited the idle timeout. Its next answer says `connection: close`.
    func drainBegan() {
        guard Self.drainIdleGrace < idleLimit else { return }
        idleLimit = Self.drainIdleGrace
        if case .idle = phase { since = .now() }
    }

    /// Whether the connection's TLS handshake has not finished yet.
    var isHandshaking: Bool {
        if case .handshaking = phase { return true }
        return false
    }

    /// The TLS handshake finished: the connection waits for its first request.
    func handshakeCompleted() {
        guard case .handshaking = phase else { return }
        phase = .idle
        since = .now()
    }

    /// The exchange under way became a tunnel: from now on only silence in both directions ends it, for the tunnel
    /// idle timeout. A TCP route's connection takes its cluster's `tcp` settings instead, as Envoy's TCP proxy does:
    /// `idleTimeout` in place of the gateway's (`0s`: none) and `maxConnectionDuration`, which ends it however busy.
    func tunnelStarted(_ tcp: ConnectionPoolSettings.TCPSettings? = nil) {
        guard case .exchanging = phase else { return }
        phase = .tunnelling
        since = .now()
        tunnelIdleLimit = tcp?.idleTimeout.map { $0 > .zero ? TimeAmount($0) : nil } ?? limits.tunnelIdleTimeout
        tunnelEnds = tcp?.maxConnectionDuration.map { since + TimeAmount($0) }
    }

    /// Bytes passed through the tunnel.
    func trafficPassed() {
        trafficSinceSweep = true
    }

    /// The connection's client end, while the connection is open.
    func attach(_ client: ClientSide?) {
        self.client = client
    }

    func connectionClosed() {
        phase = .closed
    }

    /// The connection is closed or closing: a timeout ended it (a 408 lingers while its last bytes go out), so what
    /// the client still sends is dropped, never read as a request.
    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// Bytes arrived from the client: the first after an exchange (or on a new connection) start a request.
    func bytesArrived() {
        switch phase {
        case .idle, .handshaking:
            phase = .readingHead
            since = .now()
        case .readingHead, .exchanging, .tunnelling, .closed:
            break
        }
    }

    /// The proxy has a complete request head.
    func headReceived() {
        if case .closed = phase { return }
        phase = .exchanging
    }

    /// The proxy finished an exchange and keeps the connection for the next request.
    func exchangeEnded() {
        guard case .exchanging = phase else { return }
        phase = .idle
        since = .now()
    }

    /// Called by the loop's sweep: closes the connection if its current phase has lasted too long.
    func expire(now: NIODeadline) {
        switch phase {
        case .tunnelling where tunnelEnds.map { now >= $0 } ?? false:
            phase = .closed
            client?.close()
        case .tunnelling where trafficSinceSweep:
            trafficSinceSweep = false
            since = now
        case .idle where now - since >= idleLimit, .tunnelling where tunnelIdleLimit.map { now - since >= $0 } ?? false:
            phase = .closed
            client?.close()
        case .handshaking where now - since >= limits.requestHeaderTimeout:
            // Nothing can be answered before the handshake: the connection just closes.
            phase = .closed
            client?.close()
        case .readingHead where now - since >= limits.requestHeaderTimeout:
            headTimedOut()
        default:
            break
        }
    }

    private func headTimedOut() {
        guard let client else { return }
        phase = .closed
        // No response is in flight while a head is incomplete, so raw bytes here cannot interleave with one.
        let body = "request header timeout: the request head did not arrive within \(Self.describe(limits.requestHeaderTimeout))\n"
        let response =
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n"
            + "connection: close\r\nserver: serin\r\n\r\n" + body
        client.write(client.allocator.buffer(string: response))
        client.closeAfterWrites()
    }

    /// How often a loop sweeps its connections: a quarter of the shorter timeout, between 10ms and 250ms, so a
    /// timeout fires within a quarter of a second of its time (the 10s head timeout at 10-10.25s, where a 1s sweep
    /// let it run to 11s) and a drain's idle grace within a quarter of a second of its end.
    static func sweepInterval(for limits: GatewayLimits) -> TimeAmount {
        let shorter = min(limits.idleTimeout, limits.requestHeaderTimeout).nanoseconds / 4
        return .nanoseconds(min(max(shorter, 10_000_000), 250_000_000))
    }

    static func describe(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}
