import NIOCore

/// The first handler of a client connection: closes connections that sit idle too long between requests,
/// and answers 408 to a request whose head trickles in slower than the header timeout (slow-loris).
///
/// It sees raw bytes, before the HTTP decoder, so it knows when a request *starts* arriving; the proxy
/// tells it when the head is complete (`headReceived`) and when the exchange is over (`exchangeEnded`).
final class ConnectionDeadlines: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// No request in flight: waiting for the first byte of the next one.
        case idle
        /// A request's first bytes arrived; its head is not complete yet.
        case readingHead
        /// The head arrived; the proxy owns the connection until the exchange ends.
        case exchanging
        case closed
    }

    private let limits: GatewayLimits
    private var phase = Phase.idle
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limits: GatewayLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armIdle() }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdle()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = phase {
            phase = .readingHead
            arm(limits.requestHeaderTimeout) { deadlines in deadlines.headTimedOut() }
        }
        context.fireChannelRead(data)
    }

    /// The proxy has a complete request head.
    func headReceived() {
        if case .closed = phase { return }
        phase = .exchanging
        disarm()
    }

    /// The proxy finished an exchange and keeps the connection for the next request.
    func exchangeEnded() {
        guard case .exchanging = phase else { return }
        phase = .idle
        armIdle()
    }

    private func armIdle() {
        guard case .idle = phase else { return }
        arm(limits.idleTimeout) { deadlines in
            guard case .idle = deadlines.phase else { return }
            deadlines.context?.close(promise: nil)
        }
    }

    private func headTimedOut() {
        guard case .readingHead = phase, let context else { return }
        phase = .closed
        // No response is in flight while a head is incomplete, so raw bytes here cannot interleave with one.
        let body = "request header timeout: the request head did not arrive within \(Self.describe(limits.requestHeaderTimeout))\n"
        let response =
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n"
            + "connection: close\r\nserver: serin\r\n\r\n" + body
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response))).assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    private func arm(_ delay: TimeAmount, _ fire: @escaping (ConnectionDeadlines) -> Void) {
        disarm()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.timer = nil
            fire(self)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    static func describe(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}
