import NIOCore
import NIOHTTP2

/// One HTTP/2 client connection, last in its pipeline behind NIOHTTP2's frame handler: it hands each stream's frames
/// to that stream's `HTTP2ServerStream` (and its proxy), writes theirs, and flushes once per event-loop turn — the
/// streams answered in one turn cost one `write` — and keeps the connection's receive window open. It counts the
/// streams, closes the connection after the idle timeout with none open, answers a drain with the graceful GOAWAY
/// `HTTP2ConnectionLifecycle` decides, and closes on a connection error NIOHTTP2 reports (after its GOAWAY went
/// out), as the HTTP/1 proxy closes on errors; a stream's error resets only that stream.
/// `@unchecked Sendable` safe: NIOHTTP2 and the loop's drain call it on the connection's event loop only, where it
/// is made.
final class HTTP2ServerConnection: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame
    typealias Action = HTTP2ConnectionLifecycle.Action

    /// The drain's PING payload, told apart from any other PING's acknowledgement.
    static let drainPing = HTTP2PingData(withInteger: 0x7365_7269_6E2D_6761)
    /// How long the final GOAWAY waits for the PING's round trip: a client that does not answer gets it anyway. 5 s
    /// is how long Envoy waits between its two GOAWAYs (the connection manager's `drain_timeout` default), time
    /// for a client busy elsewhere to read the first before new streams it sent are refused.
    static let announcementWait = TimeAmount.seconds(5)
    /// The connection's receive window, kept topped up (256 MiB is Envoy's; 16 MiB bounds what one client holds).
    static let window = 1 << 24

    private let channel: any Channel
    private let idleTimeout: TimeAmount
    private let loop: LoopContext
    /// Makes the proxy for a stream the client opens.
    private let makeProxy: () -> ProxyHandler
    private var context: ChannelHandlerContext?
    private var clientAddress: String?
    /// The connection's two ends, for a PROXY protocol header upstream.
    private var ends: ConnectionEnds?
    private var streams: [HTTP2StreamID: HTTP2ServerStream] = [:]
    /// Streams the current read passed bytes to, told when the read is complete.
    private var readStreams: [HTTP2ServerStream] = []
    private var flushScheduled = false
    /// Streams closed in this event-loop turn, whose proxies hear of it at the turn's end.
    private var closedStreams: [HTTP2ServerStream] = []
    private var lifecycle = HTTP2ConnectionLifecycle()
    private var idleTimer: Scheduled<Void>?
    /// Since when no stream has been open, while none is. The idle timer is not moved each time the last stream
    /// closes (on a busy connection that is every few requests): when it fires it checks this, and waits on if the
    /// connection has not been idle for the whole timeout.
    private var idleSince: NIODeadline?
    private var announcementTimer: Scheduled<Void>?

    init(channel: any Channel, idleTimeout: TimeAmount, loop: LoopContext, makeProxy: @escaping () -> ProxyHandler) {
        self.channel = channel
        self.idleTimeout = idleTimeout
        self.loop = loop
        self.makeProxy = makeProxy
        run(.armIdleTimer)
    }

    var eventLoop: any EventLoop { channel.eventLoop }
    var allocator: ByteBufferAllocator { channel.allocator }
    var isWritable: Bool { channel.isWritable }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress
        ends = ConnectionEnds(context.channel)
        loop.register(self)
        // A connection accepted while the gateway drains (its listeners still open for the load balancer) is served
        // the streams of its first flight, then told with GOAWAY: told at once, a client sends its request nowhere
        // (curl gives up, a gRPC client fails the call). One that opens no stream within the drain's grace is told then.
        if loop.draining {
            acceptedDraining = true
            channel.eventLoop.assumeIsolated().scheduleTask(in: ConnectionDeadlines.drainIdleGrace) { self.beginDrain() }
        }
    }

    /// Accepted while the gateway drained: its first stream begins the drain (`handlerAdded`).
    private var acceptedDraining = false

    func handlerRemoved(context: ChannelHandlerContext) {
        lifecycle.connectionClosed()
        idleTimer?.cancel()
        announcementTimer?.cancel()
        loop.unregister(self)
        closeStreams()
        self.context = nil
    }

    // MARK: Streams

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.streamID != .rootStream else {
            if case .ping(let payload, ack: true) = frame.payload, payload == Self.drainPing {
                run(lifecycle.pingAcknowledged())
            }
            return
        }
        if let stream = streams[frame.streamID] {
            stream.received(frame.payload)
        } else if case .headers = frame.payload {
            // NIOHTTP2 passes on only HEADERS that open a stream it accepted (not one refused after a GOAWAY).
            let proxy = makeProxy()
            let stream = HTTP2ServerStream(id: frame.streamID, connection: self, proxy: proxy)
            streams[frame.streamID] = stream
            proxy.serve(stream, clientAddress: clientAddress, ends: ends)
            run(lifecycle.streamOpened(id: Int(Int32(frame.streamID))))
            stream.received(frame.payload)
            if acceptedDraining {
                acceptedDraining = false
                beginDrain()
            }
        }
    }

    /// `stream` was passed bytes in this read: it hears when the read is complete.
    func readCompletes(_ stream: HTTP2ServerStream) {
        if readStreams.last !== stream { readStreams.append(stream) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !readStreams.isEmpty {
            let streams = readStreams
            readStreams.removeAll(keepingCapacity: true)
            for stream in streams { stream.readComplete() }
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Told apart by type first: a failed `as?` on every event costs more than the events' handling.
        let kind = type(of: event)
        if kind == StreamClosedEvent.self, let closed = event as? StreamClosedEvent {
            if let stream = streams.removeValue(forKey: closed.streamID) {
                stream.streamClosed(reset: closed.reason != nil)
                run(lifecycle.streamClosed())
            }
        } else if kind == NIOHTTP2WindowUpdatedEvent.self, let update = event as? NIOHTTP2WindowUpdatedEvent, update.streamID == .rootStream,
            let window = update.inboundWindowSize, window < Self.window / 2
        {
            // The client's data is passed on as it comes (each stream's own window bounds what a stream holds).
            write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.window - window)), promise: nil)
            flushSoon()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        for stream in streams.values { stream.writabilityChanged() }
        context.fireChannelWritabilityChanged()
    }

    /// A frame from one of the streams.
    func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// Flushes now: what streams wrote goes to NIOHTTP2's framing before a frame written after it can drop it.
    func flushNow() {
        context?.flush()
    }

    /// Flushes at the end of this event-loop turn: every stream answered in it has written by then.
    func flushSoon() {
        guard !flushScheduled else { return }
        flushScheduled = true
        channel.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            context?.flush()
            guard !closedStreams.isEmpty else { return }
            let closed = closedStreams
            closedStreams.removeAll(keepingCapacity: true)
            for stream in closed { stream.proxyNoticesClose() }
        }
    }

    /// `stream` closed: what it wrote goes out, and its proxy hears of it when this turn's work is done.
    func closedStreamLater(_ stream: HTTP2ServerStream) {
        closedStreams.append(stream)
        flushSoon()
    }

    private func closeStreams() {
        let open = streams
        streams = [:]
        for stream in open.values { stream.streamClosed() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        lifecycle.connectionClosed()
        closeStreams()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream's error — NIOHTTP2 reset that one stream, as it refuses a stream opened after the drain's GOAWAY —
        // leaves the connection and its other streams alone; anything else is the connection's, after its GOAWAY.
        // So does a frame written after both GOAWAYs and the last stream's end (a stream's last RST_STREAM or
        // WINDOW_UPDATE): NIOHTTP2 refuses that frame alone, and closing here cut off the last answer, not yet flushed.
        if error is NIOHTTP2Errors.StreamError || error is NIOHTTP2Errors.IOOnClosedConnection { return }
        context.close(promise: nil)
    }

    /// The gateway began draining.
    func beginDrain() {
        run(lifecycle.drainBegan())
        for stream in streams.values { stream.drainBegan() }
    }

    /// The loop's sweep: the streams' clocks.
    func sweep(now: NIODeadline) {
        for stream in streams.values { stream.expire(now: now) }
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
            idleSince = .now()
            if idleTimer == nil { scheduleIdleCheck(in: idleTimeout) }
        case .cancelIdleTimer:
            idleSince = nil
        case .announceDrain:
            idleTimer?.cancel()
            idleTimer = nil
            channel.write(Self.goAway(lastStreamID: .maxID), promise: nil)
            channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.drainPing, ack: false)), promise: nil)
            announcementTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: Self.announcementWait) {
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

    /// The timers capture the connection strongly and `handlerRemoved` cancels them: a weak capture would give the
    /// connection a side table, and every retain of it in NIO's pipeline (several per frame) the runtime's slow path.
    private func scheduleIdleCheck(in delay: TimeAmount) {
        idleTimer = channel.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.idleTimer = nil
            guard let since = self.idleSince else { return }
            let idle = NIODeadline.now() - since
            if idle >= self.idleTimeout {
                self.run(self.lifecycle.idleTimedOut())
            } else {
                self.scheduleIdleCheck(in: self.idleTimeout - idle)
            }
        }
    }

    private static func goAway(lastStreamID: HTTP2StreamID) -> HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
    }
}
