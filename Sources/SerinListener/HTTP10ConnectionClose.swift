import NIOCore
import NIOHTTP1

/// An HTTP/1.0 request without `Connection: keep-alive` ends its connection after the answer (RFC 9112 §9.3), but
/// Hummingbird reads requests as HTTP types, which carry no version: it closes only on `Connection: close`, and an
/// HTTP/1.0 client that waits for the close (as `curl -0` and `ab` do for a body without a length) waited for the
/// idle timeout. This handler sits where the version is still known, just after NIO's decoder, and writes the
/// `Connection: close` the version implies. Added through Hummingbird's after-the-codec handlers, it moves itself
/// ahead of the codec when it joins the pipeline.
final class HTTP10ConnectionClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let placed: Bool

    init(placed: Bool = false) {
        self.placed = placed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard !placed else { return }
        let pipeline = context.pipeline.syncOperations
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
            try? pipeline.addHandler(HTTP10ConnectionClose(placed: true), position: .after(decoder.handler))
        }
        pipeline.removeHandler(context: context, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), head.version.major == 1, head.version.minor == 0, !head.isKeepAlive else {
            return context.fireChannelRead(data)
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
