import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A WebSocket client on NIOWebSocket's client upgrader (no WebSocket client is installable for the tests'
/// Python): connects to 127.0.0.1, sends the handshake with a `Host`, and keeps every message it receives.
public final class WebSocketClient: Sendable {
    /// A whole message as received.
    public enum Message: Equatable, Sendable {
        case text(String)
        case binary([UInt8])
        /// The peer's close frame, with its status code.
        case close(code: UInt16?)
    }

    /// The server answered the handshake with something other than `101`.
    public struct NotUpgraded: Error, CustomStringConvertible {
        public var description: String { "the server did not switch protocols" }
    }

    let channel: any Channel
    private let inbox: Inbox
    /// The messages sent on a timer since the WebSocket opened, when it was opened `ticking`.
    public let ticker: Ticker?

    /// A WebSocket on `channel`, whose pipeline ends with a `Collector` into `inbox`: a TCP connection, or an HTTP/2
    /// stream (`HTTP2StreamClient`).
    init(channel: any Channel, inbox: Inbox, ticker: Ticker? = nil) {
        self.channel = channel
        self.inbox = inbox
        self.ticker = ticker
    }

    /// A message to send on a timer from the moment a WebSocket opens, on its event loop: a server's idle clock
    /// starts at the switch, and a test's task, starved by other tests, may resume only seconds later.
    public struct Tick: Sendable {
        public var text: String
        public var every: TimeAmount

        public init(_ text: String, every: TimeAmount) {
            self.text = text
            self.every = every
        }
    }

    private enum Outcome {
        case upgraded(any Channel, Ticker?)
        case notUpgraded
    }

    /// Opens a WebSocket to `127.0.0.1:port` for `host` and `path` (over TLS trusting `trusting`, a CA file, when
    /// given, with `host` as the server name); throws `NotUpgraded` when the server declines. With `ticking`, its
    /// messages start as the handshake ends (`ticker`).
    public static func connect(
        port: Int, host: String, path: String = "/", headers extra: [(String, String)] = [], trusting: String? = nil,
        ticking tick: Tick? = nil, group: any EventLoopGroup
    ) async throws -> WebSocketClient {
        let tls = try trusting.map { trusting in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(trusting)
            return try NIOSSLContext(configuration: configuration)
        }
        let inbox = Inbox()
        let upgraded: EventLoopFuture<Outcome> = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: host)) }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Outcome>(
                        maxFrameSize: WebSocketEchoServer.maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(Collector(inbox))
                                return Outcome.upgraded(channel, tick.map { startTicker(on: channel, $0) })
                            }
                        }
                    )
                    var headers = HTTPHeaders([("host", host), ("content-length", "0")])
                    for (name, value) in extra { headers.add(name: name, value: value) }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Outcome>(
                        upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                channel.close(promise: nil)
                                return Outcome.notUpgraded
                            }
                        }
                    )
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration)
                    )
                }
            }
        switch try await upgraded.get() {
        case .upgraded(let channel, let ticker): return WebSocketClient(channel: channel, inbox: inbox, ticker: ticker)
        case .notUpgraded: throw NotUpgraded()
        }
    }

    public func send(text: String) async throws {
        try await send(.text, channel.allocator.buffer(string: text))
    }

    public func send(binary: [UInt8]) async throws {
        try await send(.binary, channel.allocator.buffer(bytes: binary))
    }

    /// Sends `text` every `interval` from the connection's event loop until the returned ticker is stopped: traffic
    /// that keeps flowing while the test's own task waits, however busy the machine's cooperative threads are.
    public func send(text: String, every interval: TimeAmount) -> Ticker {
        Self.startTicker(on: channel, Tick(text, every: interval))
    }

    static func startTicker(on channel: any Channel, _ tick: Tick) -> Ticker {
        let sent = NIOLockedValueBox(Ticker.Record())
        let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: tick.every) { _ in
            sent.withLockedValue { $0.ticked(at: .now()) }
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: channel.allocator.buffer(string: tick.text))
            channel.writeAndFlush(frame, promise: nil)
        }
        return Ticker(task: task, eventLoop: channel.eventLoop, sent: sent)
    }

    /// Messages sent on a timer by `send(text:every:)`.
    public struct Ticker: Sendable {
        let task: RepeatedTask
        let eventLoop: any EventLoop
        let sent: NIOLockedValueBox<Record>

        /// How many messages went, and the longest wait between two of them: a machine that starves the event loop
        /// (a full test run on two cores) can hold the ticks back, and then the connection really was silent.
        struct Record {
            var count = 0
            var last: NIODeadline?
            var longestGap = TimeAmount.zero

            mutating func ticked(at now: NIODeadline) {
                if let last { longestGap = max(longestGap, now - last) }
                (count, last) = (count + 1, now)
            }
        }

        /// Stops the timer; returns how many messages it sent.
        public func stop() async -> Int {
            let stopped = eventLoop.makePromise(of: Void.self)
            task.cancel(promise: stopped)
            try? await stopped.futureResult.get()
            return sent.withLockedValue { $0.count }
        }

        /// The longest wait between two messages so far.
        public var longestGap: Duration { .nanoseconds(sent.withLockedValue { $0.longestGap.nanoseconds }) }
    }

    /// Starts the closing handshake with `normalClosure`; the server answers with its own close.
    public func sendClose() async throws {
        var code = channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        try await send(.connectionClose, code)
    }

    private func send(_ opcode: WebSocketOpcode, _ data: ByteBuffer) async throws {
        // A client masks every frame (RFC 6455 §5.3).
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)).get()
    }

    /// The next message not taken yet; nil if none comes within `timeout`.
    public func next(timeout: Duration = .seconds(10)) async -> Message? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let message = inbox.take() { return message }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return inbox.take()
    }

    /// Whether the connection has closed.
    public var isClosed: Bool { inbox.closed }

    /// Waits until the connection closes; false if it is still open after `timeout`.
    public func waitForClose(timeout: Duration = .seconds(10)) async -> Bool {
        await eventually(timeout) { self.inbox.closed }
    }

    public func close() async {
        try? await channel.close()
    }

    final class Inbox: Sendable {
        private let state = NIOLockedValueBox((messages: [Message](), closed: false))

        func add(_ message: Message) { state.withLockedValue { $0.messages.append(message) } }

        func take() -> Message? {
            state.withLockedValue { $0.messages.isEmpty ? nil : $0.messages.removeFirst() }
        }

        func markClosed() { state.withLockedValue { $0.closed = true } }

        var closed: Bool { state.withLockedValue { $0.closed } }
    }

    /// Gathers frames into messages for the inbox.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame

        private let inbox: Inbox
        private var messages = WebSocketMessages()

        init(_ inbox: Inbox) {
            self.inbox = inbox
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            if frame.opcode == .connectionClose {
                var data = frame.unmaskedData
                inbox.add(.close(code: data.readInteger(as: UInt16.self)))
                return
            }
            guard let (opcode, data) = messages.add(frame) else { return }
            inbox.add(opcode == .text ? .text(String(buffer: data)) : .binary(Array(buffer: data)))
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.markClosed()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
