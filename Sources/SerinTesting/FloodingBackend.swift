import NIOCore
import NIOPosix
import Synchronization

/// A backend on 127.0.0.1 that answers any request with a large body written as fast as the connection takes
/// it, and counts the bytes the kernel took: how a test sees whether a proxy stops reading an upstream whose
/// client is slow (backpressure), or reads it all into memory.
public final class FloodingBackend: Sendable {
    public let port: Int
    private let channel: any Channel
    private let box: Box

    private init(port: Int, channel: any Channel, box: Box) {
        self.port = port
        self.channel = channel
        self.box = box
    }

    /// Body bytes written to the socket so far, over every connection.
    public var bodyBytesWritten: Int { box.count.load(ordering: .relaxed) }

    public static func start(group: any EventLoopGroup, bodyBytes: Int) async throws -> FloodingBackend {
        let written = Box()
        let channel = try await LocalServer.bind(group: group) { Flooder(bodyBytes: bodyBytes, written: written) }
        return FloodingBackend(port: channel.localAddress?.port ?? 0, channel: channel, box: written)
    }

    public func close() async { try? await channel.close() }

    private final class Box: Sendable {
        let count = Atomic<Int>(0)
    }

    private final class Flooder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bodyBytes: Int
        let written: Box
        var remaining = -1

        init(bodyBytes: Int, written: Box) {
            self.bodyBytes = bodyBytes
            self.written = written
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard remaining < 0 else { return }
            remaining = bodyBytes
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(bodyBytes)\r\n\r\n"
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: head)), promise: nil)
            pump(context: context)
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable { pump(context: context) }
            context.fireChannelWritabilityChanged()
        }

        private func pump(context: ChannelHandlerContext) {
            let chunk = 64 * 1024
            let written = self.written
            while remaining > 0, context.channel.isWritable {
                let size = min(chunk, remaining)
                remaining -= size
                let promise = context.eventLoop.makePromise(of: Void.self)
                promise.futureResult.whenSuccess { written.count.add(size, ordering: .relaxed) }
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(repeating: UInt8(ascii: "x"), count: size)), promise: promise)
            }
        }
    }
}

/// A test server's listener on a free port of 127.0.0.1, each accepted connection served by a new handler.
enum LocalServer {
    static func bind<Handler: ChannelHandler>(
        group: any EventLoopGroup, _ makeHandler: @escaping @Sendable () -> Handler
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }
}
