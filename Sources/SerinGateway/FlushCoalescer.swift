import NIOCore

/// On an HTTP/2 client connection, between NIOHTTP2 and the socket: the flushes of the many streams answered
/// in one event-loop turn — each stream's response is flushed when its upstream's answer arrives — become one
/// flush at the end of that turn, so ten responses cost one `write` (and one TLS record run), not ten. A close
/// flushes what is pending first, so nothing written before it (a GOAWAY, a last response) is lost.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        // Tasks run after the turn's IO events: every stream answered in this turn has written by then.
        context.eventLoop.assumeIsolated().execute {
            guard self.flushScheduled else { return }
            self.flushScheduled = false
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
    }
}
