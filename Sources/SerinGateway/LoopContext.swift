import NIOCore

/// State the proxy keeps per event loop: the upstream pool, the telemetry shard index, and the client
/// connections open on the loop (so a drain can reach them).
///
/// Each instance is touched only from its own event loop, which is what makes the
/// `@unchecked Sendable` safe: it is created on the server's thread, then handed to the
/// loop's child channels and used there only (`pool` asserts it).
final class LoopContext: @unchecked Sendable {
    let pool: UpstreamPool
    /// The loop's HTTP/2 connections to endpoints whose port speaks HTTP/2 or gRPC.
    let http2: HTTP2UpstreamSessions
    let shard: Int
    let eventLoop: any EventLoop
    private var connections: [ObjectIdentifier: ProxyHandler] = [:]
    /// Set once a drain begins: every response from then on ends its connection.
    private(set) var draining = false

    init(eventLoop: any EventLoop, shard: Int, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.pool = UpstreamPool(eventLoop: eventLoop, connectTimeout: connectTimeout)
        self.http2 = HTTP2UpstreamSessions(eventLoop: eventLoop, connectTimeout: connectTimeout)
        self.shard = shard
        pool.loop = self
    }

    /// HTTP/2 client connections, each drained as a whole (its streams' proxies are in `connections`).
    private var http2Connections: [ObjectIdentifier: HTTP2ServerConnection] = [:]
    /// How many of `connections` serve one stream of an HTTP/2 connection rather than a connection of their own.
    private var streamProxies = 0

    /// Client connections open on this loop: HTTP/1 ones and HTTP/2 ones, not counting the streams of the latter.
    var connectionCount: Int { connections.count - streamProxies + http2Connections.count }

    func register(_ handler: ProxyHandler) {
        guard connections.updateValue(handler, forKey: ObjectIdentifier(handler)) == nil else { return }
        if handler.servesHTTP2Stream { streamProxies += 1 }
    }

    func unregister(_ handler: ProxyHandler) {
        guard connections.removeValue(forKey: ObjectIdentifier(handler)) != nil else { return }
        if handler.servesHTTP2Stream { streamProxies -= 1 }
    }

    func register(_ connection: HTTP2ServerConnection) { http2Connections[ObjectIdentifier(connection)] = connection }

    func unregister(_ connection: HTTP2ServerConnection) { http2Connections[ObjectIdentifier(connection)] = nil }

    /// Stops keep-alive: idle connections close now, busy ones after their response; HTTP/2 connections send
    /// GOAWAY and close once their open streams are answered.
    func beginDrain() {
        draining = true
        for connection in http2Connections.values { connection.beginDrain() }
        for handler in connections.values { handler.closeIfIdle() }
    }

    /// Closes the connections whose idle or header time has run out (see `ConnectionDeadlines`).
    func sweep() {
        let now = NIODeadline.now()
        for handler in connections.values { handler.deadlines.expire(now: now) }
    }

    /// The drain timed out: whatever is still open is closed.
    func closeAllConnections() {
        for handler in connections.values { handler.closeNow() }
        for connection in http2Connections.values { connection.closeNow() }
    }
}
