import NIOCore
import NIOHTTP2

/// One HTTP/2 client connection as a whole, last in its pipeline and NIOHTTP2's stream delegate: it counts the
/// streams, closes the connection after the idle timeout with none open, answers a drain with the graceful GOAWAY
/// `HTTP2ConnectionLifecycle` decides, and closes on a connection error NIOHTTP2 reports (after its GOAWAY went
/// out), as the HTTP/1 proxy closes on errors; a stream's error resets only that stream.
/// `@unchecked Sendable` safe: NIOHTTP2 and the loop's drain call it on the connection's event loop only, where it
/// is made.
final class HTTP2ServerConnection: ChannelInboundHandler, RemovableChannelHandler, NIOHTTP2StreamDelegate, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame
    typealias Action = HTTP2ConnectionLifecycle.Action

    /// The drain's PING payload, told apart from any other PING's acknowledgement.
    static let drainPing = HTTP2PingData(withInteger: 0x7365_7269_6E2D_6761)
    /// How long the final GOAWAY waits for the PING's round trip: a client that does not answer gets it anyway. 5 s
    /// is how long Envoy waits between its two GOAWAYs (the connection manager's `drain_timeout` default), time
    /// for a client busy elsewhere to read the first before new streams it sent are refused.
    static let announcementWait = TimeAmount.seconds(5)

    private let channel: any Channel
    private let idleTimeout: TimeAmount
    private let loop: LoopContext
    private var lifecycle = HTTP2ConnectionLifecycle()
    private var idleTimer: Scheduled<Void>?
    private var announcementTimer: Scheduled<Void>?

    init(channel: any Channel, idleTimeout: TimeAmount, loop: LoopContext) {
        self.channel = channel
        self.idleTimeout = idleTimeout
        self.loop = loop
        run(.armIdleTimer)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        loop.register(self)
        // A connection that turned out to be HTTP/2 while the gateway drains is told at once.
        if loop.draining { beginDrain() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        lifecycle.connectionClosed()
        idleTimer?.cancel()
        announcementTimer?.cancel()
        loop.unregister(self)
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        run(lifecycle.streamOpened(id: Int(Int32(id))))
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        run(lifecycle.streamClosed())
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .ping(let payload, ack: true) = unwrapInboundIn(data).payload, payload == Self.drainPing {
            run(lifecycle.pingAcknowledged())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        lifecycle.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream's error — NIOHTTP2 reset that one stream, as it refuses a stream opened after the drain's GOAWAY —
        // leaves the connection and its other streams alone; anything else is the connection's, after its GOAWAY.
        if error is NIOHTTP2Errors.StreamError { return }
        context.close(promise: nil)
    }

    /// The gateway began draining.
    func beginDrain() {
        run(lifecycle.drainBegan())
    }

    /// The drain's time is up.
    func closeNow() {
        channel.close(promise: nil)
    }

    private func run(_ action: Action) {
        switch action {
        case .none:
            break
        case .armIdleTimer:
            idleTimer?.cancel()
            idleTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [weak self] in
                guard let self else { return }
                self.run(self.lifecycle.idleTimedOut())
            }
        case .cancelIdleTimer:
            idleTimer?.cancel()
            idleTimer = nil
        case .announceDrain:
            idleTimer?.cancel()
            idleTimer = nil
            channel.write(Self.goAway(lastStreamID: .maxID), promise: nil)
            channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.drainPing, ack: false)), promise: nil)
            announcementTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: Self.announcementWait) { [weak self] in
                guard let self else { return }
                self.run(self.lifecycle.announcementTimedOut())
            }
        case .sendFinalGoAway(let lastStreamID):
            announcementTimer?.cancel()
            announcementTimer = nil
            channel.writeAndFlush(Self.goAway(lastStreamID: HTTP2StreamID(lastStreamID)), promise: nil)
        case .closeAfterGoAway(let lastStreamID):
            announcementTimer?.cancel()
            announcementTimer = nil
            idleTimer?.cancel()
            idleTimer = nil
            // Closed once the GOAWAY is written, and so every frame before it: the last answers are not cut off.
            let channel = self.channel
            channel.writeAndFlush(Self.goAway(lastStreamID: HTTP2StreamID(lastStreamID))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    private static func goAway(lastStreamID: HTTP2StreamID) -> HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
    }
}
