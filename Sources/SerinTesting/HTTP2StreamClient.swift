import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOWebSocket

/// One HTTP/2 client connection on NIOHTTP2 that opens WebSockets the RFC 8441 way — an extended CONNECT per
/// stream, masked frames in DATA — since no stock client speaks it, and sends plain requests beside them; h2c with
/// prior knowledge, or TLS with ALPN h2. It keeps the connection-level frames a test reads: the server's SETTINGS
/// and any GOAWAY.
public final class HTTP2StreamClient: Sendable {
    /// The server answered the extended CONNECT with something other than `200` (or reset the stream first: `status` 0).
    public struct Refused: Error, CustomStringConvertible {
        public let status: Int
        public let body: String
        /// The stream's RST_STREAM code when it was reset instead of answered.
        public let resetCode: HTTP2ErrorCode?
        public var description: String { "extended CONNECT refused: status \(status), reset \(resetCode.map { "\($0)" } ?? "none"): \(body)" }
    }

    private let channel: any Channel
    private let frames: ConnectionFrames
    private let scheme: String
    private let ticker = NIOLockedValueBox<RequestTicker?>(nil)

    /// The requests sent on a timer since the connection came up, when it was opened `requesting`.
    public var requestTicker: RequestTicker? { ticker.withLockedValue { $0 } }

    /// Plain requests to send on a timer from the moment a connection is up, on its event loop: a server's idle clock
    /// starts at the accept, and a test's task, starved by other tests, may resume only seconds later.
    public struct Requests: Sendable {
        public var authority: String
        public var path: String
        public var every: TimeAmount

        public init(authority: String, path: String, every: TimeAmount) {
            (self.authority, self.path, self.every) = (authority, path, every)
        }
    }

    private init(channel: any Channel, frames: ConnectionFrames, scheme: String) {
        self.channel = channel
        self.frames = frames
        self.scheme = scheme
    }

    /// Connects to `127.0.0.1:port` (over TLS trusting `trusting`, a CA file, with `serverName` as SNI, offering
    /// only h2) and waits for the server's SETTINGS. With `requesting`, its requests start as the connection comes
    /// up (`requestTicker`). `validating: false` sends header blocks and lengths as given, valid or not: a client
    /// that breaks the rules, as conformance cases need.
    public static func connect(
        port: Int, trusting: String? = nil, serverName: String? = nil, requesting: Requests? = nil, validating: Bool = true,
        group: any EventLoopGroup
    ) async throws -> HTTP2StreamClient {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        if !validating {
            configuration.headerBlockValidation = .disabled
            configuration.contentLengthValidation = .disabled
        }
        let tls = try trusting.map { trusting in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(trusting)
            configuration.applicationProtocols = ["h2"]
            return try NIOSSLContext(configuration: configuration)
        }
        let frames = ConnectionFrames()
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: configuration, streamConfiguration: .init()
                    ) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                    try channel.pipeline.syncOperations.addHandler(frames)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .map { channel in
                // On the loop as the connection comes up, before the test's task resumes.
                let client = HTTP2StreamClient(channel: channel, frames: frames, scheme: tls == nil ? "http" : "https")
                if let requesting {
                    let started = client.requests(authority: requesting.authority, path: requesting.path, every: requesting.every)
                    client.ticker.withLockedValue { $0 = started }
                }
                return client
            }
            .get()
        guard await eventually(.seconds(10), { frames.state.withLockedValue { $0.settings != nil } }) else {
            await client.close()
            throw Refused(status: 0, body: "no SETTINGS from the server within 10s", resetCode: nil)
        }
        return client
    }

    /// The event loop group the connection runs on.
    public var group: any EventLoopGroup { channel.eventLoop }

    /// The value of SETTINGS_ENABLE_CONNECT_PROTOCOL the server sent (nil when it sent none).
    public var enableConnectProtocol: UInt32? {
        frames.state.withLockedValue { $0.settings?.last { $0.parameter == .enableConnectProtocol }?.value }.map(UInt32.init)
    }

    /// The GOAWAY frames received so far: the last stream id each names, and its error code.
    public var goAways: [(lastStreamID: Int, code: HTTP2ErrorCode)] {
        frames.state.withLockedValue { $0.goAways }
    }

    /// Stops reading from the server (what it sends waits in the socket), as a client that has not yet seen a frame
    /// on its way; writes still go out.
    public func pauseReading() async throws {
        try await channel.setOption(.autoRead, value: false).get()
    }

    /// Reads again, from what waited.
    public func resumeReading() async throws {
        try await channel.setOption(.autoRead, value: true).get()
        channel.read()
    }

    /// Whether the connection has closed.
    public var isClosed: Bool { frames.state.withLockedValue { $0.closed } }

    /// Streams whose request HEADERS have been written to the connection, so a test can hold back reading until a
    /// request it started is on its way.
    public var requestsWritten: Int { frames.state.withLockedValue { $0.requestsWritten } }

    /// Opens a WebSocket on a new stream: `:method CONNECT`, `:protocol` (websocket unless told), `:path`, `:authority`
    /// and `sec-websocket-version: 13`; throws `Refused` unless the answer is `200`.
    /// With `ticking`, its messages start on the connection's loop as the stream's answer comes (`ticker`).
    public func open(
        authority: String, path: String = "/", protocolName: String = "websocket", headers extra: [(String, String)] = [],
        ticking tick: WebSocketClient.Tick? = nil
    ) async throws -> WebSocketClient {
        var headers: HPACKHeaders = [
            ":method": "CONNECT", ":protocol": protocolName, ":scheme": scheme, ":path": path, ":authority": authority,
            "sec-websocket-version": "13",
        ]
        for (name, value) in extra { headers.add(name: name, value: value) }
        return try await openStream(headers, ticking: tick)
    }

    /// Sends `fields` (pseudo-fields first) as a stream's request HEADERS without END_STREAM, as a tunnel's request,
    /// and waits for the answer's head; for requests `open` would not send.
    public func openStream(fields: [(String, String)]) async throws -> WebSocketClient {
        try await openStream(HPACKHeaders(fields))
    }

    private func openStream(_ headers: HPACKHeaders, ticking tick: WebSocketClient.Tick? = nil) async throws -> WebSocketClient {
        let inbox = WebSocketClient.Inbox()
        let (stream, opened, ticker) = try await start(headers, tunnel: true, inbox: inbox, ticking: tick)
        guard opened.status == 200 else {
            try? await stream.close()
            throw Refused(status: opened.status, body: opened.body, resetCode: opened.resetCode)
        }
        return WebSocketClient(channel: stream, inbox: inbox, ticker: ticker)
    }

    /// A plain request on a new stream (`GET` unless told, no body, `fields` after the pseudo-fields): its whole
    /// answer, or the stream's reset code.
    public func request(authority: String, path: String, method: String = "GET", fields: [(String, String)] = []) async throws -> Response {
        var headers: HPACKHeaders = [":method": method, ":scheme": scheme, ":path": path, ":authority": authority]
        for (name, value) in fields { headers.add(name: name, value: value) }
        return try await start(headers, tunnel: false, inbox: WebSocketClient.Inbox()).answer
    }

    /// A request of exactly `headers` (pseudo-fields included, in their order) on a new stream, then `body` in one DATA
    /// frame that ends it: its whole answer, or the stream's reset code (status 0).
    public func request(headers: HPACKHeaders, body: [UInt8]? = nil) async throws -> Response {
        try await start(headers, tunnel: false, inbox: WebSocketClient.Inbox(), body: body).answer
    }

    /// Whether the connection has closed (after a GOAWAY, say).
    public var isOpen: Bool { channel.isActive }

    /// Sends a POST on a new stream and its body, 16 KiB at a time as fast as the stream may send (its window and the
    /// connection's), for `duration`; returns how many body bytes went out to the server in that time, then resets
    /// the stream. A server that gives no window back holds the count where its windows end.
    public func upload(authority: String, path: String, for duration: Duration) async throws -> Int {
        let headers: HPACKHeaders = [":method": "POST", ":scheme": scheme, ":path": path, ":authority": authority]
        let answer = channel.eventLoop.makePromise(of: Response.self)
        let stream = try await channel.eventLoop.flatSubmit {
            self.createStream(headers, tunnel: true, answer: answer, inbox: WebSocketClient.Inbox(), codec: false)
        }.get()
        let sent = NIOLockedValueBox(0)
        let chunk = ByteBuffer(repeating: UInt8(ascii: "u"), count: 16 * 1024)
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline {
            // Written on the stream's loop, as long as it is writable: its writability follows the windows.
            try await stream.eventLoop.submit {
                while stream.isWritable, stream.isActive {
                    stream.writeAndFlush(chunk).whenSuccess { sent.withLockedValue { $0 += chunk.readableBytes } }
                }
            }.get()
            try await Task.sleep(for: .milliseconds(10))
        }
        // The reset settles the stream's answer, which nobody awaits.
        try? await stream.close()
        return sent.withLockedValue { $0 }
    }

    /// What a plain request got: the status and body, or (status 0) the RST_STREAM code the stream ended with.
    public struct Response: Sendable {
        public var status: Int
        public var body: String
        public var resetCode: HTTP2ErrorCode?
    }

    private func start(
        _ headers: HPACKHeaders, tunnel: Bool, inbox: WebSocketClient.Inbox, ticking tick: WebSocketClient.Tick? = nil, body: [UInt8]? = nil
    ) async throws -> (stream: any Channel, answer: Response, ticker: WebSocketClient.Ticker?) {
        let answer = channel.eventLoop.makePromise(of: Response.self)
        let created = channel.eventLoop.flatSubmit {
            self.createStream(headers, tunnel: tunnel, answer: answer, inbox: inbox, codec: true, body: body)
        }
        // On the loop as the answer comes: a tunnel's ticks start with it, not when the test's task next runs.
        return try await created.and(answer.futureResult).map { stream, response in
            let ticker = response.status == 200 ? tick.map { WebSocketClient.startTicker(on: stream, $0) } : nil
            return (stream, response, ticker)
        }.get()
    }

    /// On the connection's loop: a new stream whose first handler sends `headers` and settles `answer` (failed with
    /// the reason when no stream can be made, the connection closed say); `codec` adds the WebSocket frame codec.
    private func createStream(
        _ headers: HPACKHeaders, tunnel: Bool, answer: EventLoopPromise<Response>, inbox: WebSocketClient.Inbox, codec: Bool,
        body: [UInt8]? = nil
    ) -> EventLoopFuture<any Channel> {
        let frames = self.frames
        let created: EventLoopFuture<any Channel>
        do {
            let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
            created = multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    let first = TunnelStream(request: headers, body: body, tunnel: tunnel, answer: answer, inbox: inbox, frames: frames)
                    guard codec else { return try stream.pipeline.syncOperations.addHandler(first) }
                    try stream.pipeline.syncOperations.addHandlers([
                        first,
                        WebSocketFrameEncoder(),
                        ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: WebSocketEchoServer.maxFrameSize)),
                        WebSocketClient.Collector(inbox),
                    ])
                }
            }
        } catch {
            created = channel.eventLoop.makeFailedFuture(error)
        }
        created.whenFailure { answer.fail($0) }
        return created
    }

    /// Sends a plain `GET` on a new stream every `interval`, from the connection's event loop, until the returned
    /// ticker is stopped: requests that keep coming while the test's own task waits, however busy the machine's
    /// cooperative threads are.
    public func requests(authority: String, path: String, every interval: TimeAmount) -> RequestTicker {
        let headers: HPACKHeaders = [":method": "GET", ":scheme": scheme, ":path": path, ":authority": authority]
        let answers = NIOLockedValueBox<[Result<Response, any Error>]>([])
        let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            let answer = self.channel.eventLoop.makePromise(of: Response.self)
            answer.futureResult.whenComplete { result in answers.withLockedValue { $0.append(result) } }
            _ = self.createStream(headers, tunnel: false, answer: answer, inbox: WebSocketClient.Inbox(), codec: false)
        }
        return RequestTicker(task: task, eventLoop: channel.eventLoop, answers: answers)
    }

    /// Requests sent on a timer by `requests(authority:path:every:)`.
    public struct RequestTicker: Sendable {
        let task: RepeatedTask
        let eventLoop: any EventLoop
        let answers: NIOLockedValueBox<[Result<Response, any Error>]>

        /// The answers so far, in the order they came: each request's response, or why it got none.
        public var results: [Result<Response, any Error>] { answers.withLockedValue { $0 } }

        /// Stops the timer; returns the answers that came.
        public func stop() async -> [Result<Response, any Error>] {
            let stopped = eventLoop.makePromise(of: Void.self)
            task.cancel(promise: stopped)
            try? await stopped.futureResult.get()
            return results
        }
    }

    public func close() async {
        try? await channel.close()
    }

    /// Last on the connection: NIOHTTP2 forwards stream 0's frames here.
    final class ConnectionFrames: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame

        struct State {
            var settings: HTTP2Settings?
            var goAways: [(lastStreamID: Int, code: HTTP2ErrorCode)] = []
            var closed = false
            var requestsWritten = 0
        }

        let state = NIOLockedValueBox(State())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data).payload {
            case .settings(.settings(let settings)):
                state.withLockedValue { $0.settings = ($0.settings ?? []) + settings }
            case .goAway(let lastStreamID, let code, _):
                state.withLockedValue { $0.goAways.append((Int(lastStreamID), code)) }
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.closed = true }
            context.fireChannelInactive()
        }
    }
}

extension WebSocketClient {
    /// On a WebSocket over an HTTP/2 stream: ends the client's side of the stream (an empty DATA frame with
    /// END_STREAM), the tunnel's half-close. (`close()` resets the stream, RST_STREAM CANCEL.)
    public func finishSendingStream() async throws {
        let channel = self.channel
        try await channel.eventLoop.flatSubmit {
            do {
                return try channel.pipeline.syncOperations.handler(type: TunnelStream.self).finishSending()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }
}

/// First on a client stream: writes the request's HEADERS (ending the stream unless it opens a tunnel), reads the
/// answer's head and, unless a tunnel opened with `200`, its whole body; on a tunnel it then turns DATA frames into
/// the bytes the WebSocket codec reads and its bytes into DATA frames.
final class TunnelStream: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let request: HPACKHeaders
    /// A body sent in one DATA frame after the request's HEADERS, which then do not end the stream.
    private let requestBody: [UInt8]?
    private let tunnel: Bool
    private let answer: EventLoopPromise<HTTP2StreamClient.Response>
    private let inbox: WebSocketClient.Inbox
    private var status: Int?
    private var body = ""
    private var answered = false
    private var resetCode: HTTP2ErrorCode?
    private var context: ChannelHandlerContext?

    private let frames: HTTP2StreamClient.ConnectionFrames

    init(
        request: HPACKHeaders, body: [UInt8]? = nil, tunnel: Bool, answer: EventLoopPromise<HTTP2StreamClient.Response>,
        inbox: WebSocketClient.Inbox, frames: HTTP2StreamClient.ConnectionFrames
    ) {
        self.frames = frames
        self.request = request
        self.requestBody = body
        self.tunnel = tunnel
        self.answer = answer
        self.inbox = inbox
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { sendRequest(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendRequest(context: context)
        context.fireChannelActive()
    }

    private var sent = false

    private func sendRequest(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let written = context.eventLoop.makePromise(of: Void.self)
        if let requestBody {
            context.write(wrapOutboundOut(.headers(.init(headers: request, endStream: false))), promise: nil)
            let data = context.channel.allocator.buffer(bytes: requestBody)
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(data), endStream: true))), promise: written)
        } else {
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: request, endStream: !tunnel))), promise: written)
        }
        let frames = self.frames
        written.futureResult.whenSuccess { frames.state.withLockedValue { $0.requestsWritten += 1 } }
        // A stream the connection may not open (after a GOAWAY, say) fails here, before any frame goes out.
        written.futureResult.assumeIsolated().whenFailure { error in
            guard !self.answered else { return }
            self.answered = true
            self.answer.fail(error)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers) where status == nil:
            status = headers.headers.first(name: ":status").flatMap { Int($0) } ?? 0
            if tunnelOpen || headers.endStream { settle() }
        case .data(let frame):
            guard case .byteBuffer(let bytes) = frame.data else { return }
            if tunnelOpen {
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
                // The server's end of the tunnel ends the WebSocket, as a TCP client closes when it reads the end.
                if frame.endStream { context.close(promise: nil) }
            } else {
                body += String(buffer: bytes)
                if frame.endStream { settle() }
            }
        case .headers(let trailers) where trailers.endStream:
            if !tunnelOpen { settle() }
        default:
            break
        }
    }

    private var tunnelOpen: Bool { tunnel && status == 200 }

    private func settle() {
        guard !answered else { return }
        answered = true
        answer.succeed(HTTP2StreamClient.Response(status: status ?? 0, body: body, resetCode: resetCode))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed { resetCode = closed.errorCode }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        settle()
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(unwrapOutboundIn(data))))), promise: promise)
    }

    /// END_STREAM on an empty DATA frame.
    func finishSending() -> EventLoopFuture<Void> {
        guard let context else { return answer.futureResult.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let empty = context.channel.allocator.buffer(capacity: 0)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(empty), endStream: true))), promise: promise)
        return promise.futureResult
    }
}
