import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A backend on 127.0.0.1 that speaks bytes, not HTTP: it answers exactly what a test scripts, so a test can
/// send what a well-behaved server library would not (a chunked body, an answer that ends by closing,
/// `100 Continue`) and see byte for byte what a proxy sent it.
public final class ScriptedBackend: Sendable {
    /// What to send once the bytes received on a connection (since its last answer) are `received`; nil waits
    /// for more. `close` ends the connection after the answer.
    public struct Answer: Sendable {
        public var bytes: String
        public var close: Bool
        /// Keeps what was received for the next answer instead of starting afresh (a `100 Continue`, say).
        public var keepReceived: Bool
        /// Sends the answer in this many writes, 30 ms apart, so the reader sees it split anywhere.
        public var pieces: Int
        /// With `close`: the connection ends with a reset (RST, as a crashed server's), not a FIN.
        public var reset: Bool

        public init(_ bytes: String, close: Bool = false, reset: Bool = false, keepReceived: Bool = false, pieces: Int = 1) {
            self.bytes = bytes
            self.close = close || reset
            self.reset = reset
            self.keepReceived = keepReceived
            self.pieces = max(pieces, 1)
        }
    }

    public let port: Int
    private let channel: any Channel
    private let log: NIOLockedValueBox<String>

    private init(port: Int, channel: any Channel, log: NIOLockedValueBox<String>) {
        self.port = port
        self.channel = channel
        self.log = log
    }

    public static func start(
        group: any EventLoopGroup, answer: @escaping @Sendable (_ received: String) -> Answer?
    ) async throws -> ScriptedBackend {
        let log = NIOLockedValueBox("")
        let channel = try await LocalServer.bind(group: group) { Script(answer: answer, log: log) }
        return ScriptedBackend(port: channel.localAddress?.port ?? 0, channel: channel, log: log)
    }

    /// Every byte received on every connection so far, in order of arrival.
    public var received: String { log.withLockedValue { $0 } }

    public func close() async {
        try? await channel.close()
    }

    private final class Script: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: @Sendable (String) -> Answer?
        let log: NIOLockedValueBox<String>
        var pending = ""

        init(answer: @escaping @Sendable (String) -> Answer?, log: NIOLockedValueBox<String>) {
            self.answer = answer
            self.log = log
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data))
            log.withLockedValue { $0 += text }
            pending += text
            guard let reply = answer(pending) else { return }
            if !reply.keepReceived { pending = "" }
            let bytes = Array(reply.bytes.utf8)
            let size = (bytes.count + reply.pieces - 1) / reply.pieces
            let pieces = stride(from: 0, to: bytes.count, by: max(size, 1)).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            write(pieces[...], close: reply.close, reset: reply.reset, context: context)
        }

        private func write(_ pieces: ArraySlice<[UInt8]>, close: Bool, reset: Bool, context: ChannelHandlerContext) {
            guard let first = pieces.first else {
                if close { end(reset: reset, context: context) }
                return
            }
            let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: first)))
            let rest = pieces.dropFirst()
            written.assumeIsolated().whenComplete { _ in
                guard !rest.isEmpty else {
                    if close { self.end(reset: reset, context: context) }
                    return
                }
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(30)) {
                    self.write(rest, close: close, reset: reset, context: context)
                }
            }
        }

        /// Closes the connection; `reset`: with SO_LINGER 0, so the peer reads a reset.
        private func end(reset: Bool, context: ChannelHandlerContext) {
            guard reset, let options = context.channel as? any SocketOptionProvider else { return context.close(promise: nil) }
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
