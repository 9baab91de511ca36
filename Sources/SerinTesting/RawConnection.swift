import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP client that speaks bytes, not HTTP: for requests no well-behaved client would send (malformed,
/// oversized, trickled a byte at a time) and for watching when the server closes the connection.
public final class RawConnection: Sendable {
    private let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `127.0.0.1:port`. With `reading: false` it never reads what the server sends: a client
    /// that stalls, whose socket buffers fill up. `first`, when given, is written from the event loop the moment the
    /// connection is up: a server's idle clock that starts at the accept cannot run out while the test's task, starved
    /// by other tests, has yet to resume and send.
    public static func connect(
        port: Int, group: any EventLoopGroup, reading: Bool = true, sending first: [UInt8]? = nil
    ) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: reading)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectingHandler(collector)) }
            }
            .connect(host: "127.0.0.1", port: port)
            .flatMap { channel in
                guard let first else { return channel.eventLoop.makeSucceededFuture(channel) }
                return channel.writeAndFlush(channel.allocator.buffer(bytes: first)).map { channel }
            }
            .get()
        return RawConnection(channel: channel, collector: collector)
    }

    /// Writes `text` as it is; fails if the server already closed the connection.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
    }

    /// Writes `bytes` as they are, valid UTF-8 or not.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// The port the connection has on this side: what a server sees as the client's port.
    public var localPort: Int? { channel.localAddress?.port }

    /// Everything received so far.
    public var received: String { collector.text }

    /// Everything received so far, byte for byte (`received` repairs what is not UTF-8, as binary frames are not).
    public var receivedBytes: [UInt8] { collector.bytes }

    public var isClosed: Bool { collector.closed }

    /// Waits until the server closes the connection; false if it is still open after `timeout`.
    public func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout) { self.collector.closed }
    }

    /// Waits until the received text contains `needle`; false if it does not within `timeout`.
    public func waitFor(_ needle: String, timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout) { self.collector.text.contains(needle) }
    }

    public func close() async {
        try? await channel.close()
    }

    /// Half-closes: the server reads the end of what was sent, and may still answer.
    public func finishSending() async throws {
        try await channel.close(mode: .output)
    }

    final class Collector: Sendable {
        private let state = NIOLockedValueBox((text: "", bytes: [UInt8](), closed: false))
        var text: String { state.withLockedValue { $0.text } }
        var bytes: [UInt8] { state.withLockedValue { $0.bytes } }
        var closed: Bool { state.withLockedValue { $0.closed } }
        func append(_ bytes: [UInt8]) {
            state.withLockedValue {
                $0.bytes += bytes
                $0.text += String(decoding: bytes, as: UTF8.self)
            }
        }
        func markClosed() { state.withLockedValue { $0.closed = true } }
    }

    final class CollectingHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let collector: Collector
        init(_ collector: Collector) { self.collector = collector }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            collector.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }

        func channelInactive(context: ChannelHandlerContext) {
            collector.markClosed()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// A TCP server on 127.0.0.1 that misbehaves as an upstream can: answers every connection's first bytes
/// with `reply` (garbage, half a response...) and then closes (or, `closing: false`, falls silent and holds
/// the connection open), or never answers at all. With `answers: n` it answers each of a connection's first n
/// reads with `reply` and closes the connection on the next one, unanswered: a keep-alive server that closed an
/// idle connection just as a request went out on it.
public final class RawServer: Sendable {
    public let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// `reply: nil` reads and never answers.
    public static func start(group: any EventLoopGroup, reply: String?, closing: Bool = true, answers: Int? = nil) async throws -> RawServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyingHandler(reply: reply, closing: closing, answers: answers))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawServer(port: channel.localAddress?.port ?? 0, channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }

    final class ReplyingHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: String?
        let closing: Bool
        var answersLeft: Int?
        init(reply: String?, closing: Bool, answers: Int?) {
            self.reply = reply
            self.closing = closing
            self.answersLeft = answers
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let reply else { return }
            if let left = answersLeft {
                guard left > 0 else { return context.close(promise: nil) }
                answersLeft = left - 1
            }
            let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply)))
            if closing { written.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
        }
    }
}
