import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A WebSocket server on 127.0.0.1 built on NIOWebSocket's upgrader, for tests of what passes through the gateway:
/// it answers each text message with `NAME: message` (so a client knows which version it reached), echoes binary
/// messages as they came, closes when asked with the text `close-please`, and declines to upgrade on `/refuse`
/// (a plain `403`), as a real server that does not take the connection would.
public final class WebSocketEchoServer: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let counts: NIOLockedValueBox<(upgrades: Int, open: Int)>

    /// The largest message either way: a few MB, so large messages test backpressure.
    public static let maxFrameSize = 1 << 25

    private init(name: String, port: Int, channel: any Channel, counts: NIOLockedValueBox<(upgrades: Int, open: Int)>) {
        self.name = name
        self.port = port
        self.channel = channel
        self.counts = counts
    }

    /// How many WebSocket connections this server accepted.
    public var upgrades: Int { counts.withLockedValue { $0.upgrades } }

    /// WebSocket connections open on this server right now.
    public var openConnections: Int { counts.withLockedValue { $0.open } }

    public static func start(name: String, group: any EventLoopGroup) async throws -> WebSocketEchoServer {
        let counts = NIOLockedValueBox((upgrades: 0, open: 0))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxFrameSize,
                    shouldUpgrade: { channel, head in
                        // A field of its own in the 101, as real servers add (Server, Date): it must reach the client.
                        channel.eventLoop.makeSucceededFuture(head.uri.hasPrefix("/refuse") ? nil : HTTPHeaders([("x-served-by", name)]))
                    },
                    upgradePipelineHandler: { channel, _ in
                        counts.withLockedValue {
                            $0.upgrades += 1
                            $0.open += 1
                        }
                        channel.closeFuture.whenComplete { _ in counts.withLockedValue { $0.open -= 1 } }
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(EchoFrames(name: name))
                        }
                    }
                )
                return channel.eventLoop.makeCompletedFuture {
                    // Made and used on the channel's loop only.
                    let refusal = NIOLoopBound(DeclinedUpgrade(), eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(refusal.value, promise: nil)
                        })
                    )
                    try channel.pipeline.syncOperations.addHandler(refusal.value)
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return WebSocketEchoServer(name: name, port: channel.localAddress!.port!, channel: channel, counts: counts)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Answers the requests that were not upgraded: `403` with a short body.
private final class DeclinedUpgrade: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = context.channel.allocator.buffer(string: "no websocket here\n")
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(body.readableBytes))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .forbidden, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// The server side of one WebSocket: replies, echoes, and closes as `WebSocketEchoServer` describes.
private final class EchoFrames: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let name: String
    private var messages = WebSocketMessages()

    init(name: String) {
        self.name = name
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            return
        case .connectionClose:
            // The answer to a close is a close; then the server ends the connection (RFC 6455 §5.5.1).
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        default:
            break
        }
        guard let (opcode, data) = messages.add(frame) else { return }
        if opcode == .binary {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: data)), promise: nil)
            return
        }
        let text = String(buffer: data)
        if text == "close-please" {
            var code = context.channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
            context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        let reply = context.channel.allocator.buffer(string: "\(name): \(text)")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: reply)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
