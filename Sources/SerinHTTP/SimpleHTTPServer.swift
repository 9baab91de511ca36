import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server that reads each request whole and answers from an async handler.
///
/// For control-plane endpoints and demo backends, where clarity beats streaming; the proxy's
/// data path does not use it.
public final class SimpleHTTPServer: Sendable {
    public typealias Handler = @Sendable (SimpleRequest) async -> SimpleResponse

    private let channel: any Channel
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    public let host: String

    private let inFlight: InFlightAnswers

    private init(channel: any Channel, host: String, inFlight: InFlightAnswers) {
        self.inFlight = inFlight
        self.channel = channel
        self.host = host
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and serves `handler`. Bodies larger than `maxBodyBytes` get 413. A streamed
    /// response's client that falls more than `maxUnflushedStreamBytes` behind is disconnected.
    public static func start(
        group: any EventLoopGroup, host: String, port: Int, maxBodyBytes: Int = 16 << 20,
        maxUnflushedStreamBytes: Int = 256 << 10, handler: @escaping Handler
    ) async throws -> SimpleHTTPServer {
        let inFlight = InFlightAnswers()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        SimpleRequestHandler(
                            handler: handler, maxBodyBytes: maxBodyBytes, maxUnflushedStreamBytes: maxUnflushedStreamBytes,
                            inFlight: inFlight
                        )
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return SimpleHTTPServer(channel: channel, host: host, inFlight: inFlight)
    }

    /// Stops accepting connections, and cancels and waits out the answers still being computed, so none
    /// completes on an event loop that its owner shuts down next.
    public func close() async {
        try? await channel.close()
        await inFlight.cancelAndWait()
    }
}

/// The handler tasks a server is running, so `close()` can end them.
final class InFlightAnswers: Sendable {
    private struct State {
        var next: UInt64 = 0
        var running: [UInt64: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Runs `body` as a tracked task. The task is registered under the lock it must take to unregister,
    /// so it can never finish before it is known.
    func run(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let id = state.next
            state.next += 1
            state.running[id] = Task {
                await body()
                self.finished(id)
            }
        }
    }

    private func finished(_ id: UInt64) {
        _ = state.withLock { $0.running.removeValue(forKey: id) }
    }

    func cancelAndWait() async {
        let running = state.withLock { Array($0.running.values) }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}

/// Collects one request at a time and writes the handler's answer.
final class SimpleRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: SimpleHTTPServer.Handler
    private let maxBodyBytes: Int
    private let maxUnflushedStreamBytes: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    private let inFlight: InFlightAnswers

    init(handler: @escaping SimpleHTTPServer.Handler, maxBodyBytes: Int, maxUnflushedStreamBytes: Int, inFlight: InFlightAnswers) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.maxUnflushedStreamBytes = maxUnflushedStreamBytes
        self.inFlight = inFlight
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes > maxBodyBytes {
                tooLarge = true
            } else if !tooLarge {
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive && !tooLarge
            if tooLarge {
                write(.text("request body larger than \(maxBodyBytes) bytes\n", status: 413), head: head, keepAlive: false, context: context)
                return
            }
            let request = SimpleRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body
            )
            body = []
            let handler = self.handler
            let channel = context.channel
            let maxUnflushed = maxUnflushedStreamBytes
            let promise = context.eventLoop.makePromise(of: SimpleResponse.self)
            let headWritten = context.eventLoop.makePromise(of: Void.self)
            inFlight.run {
                let response = await handler(request)
                promise.succeed(response)
                // A streamed body runs as part of the same tracked answer, so closing the server ends it too.
                guard let produce = response.stream, (try? await headWritten.futureResult.get()) != nil else { return }
                await ResponseBodyWriter.run(produce, on: channel, maxUnflushedBytes: maxUnflushed)
            }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                if response.stream != nil {
                    self.writeStreamHead(response, head: head, context: context)
                } else {
                    self.write(response, head: head, keepAlive: keepAlive, context: context)
                }
                headWritten.succeed()
            }
        }
    }

    /// The head of a streamed response: no length, so HTTP/1.1 clients get it chunked.
    private func writeStreamHead(_ response: SimpleResponse, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.remove(name: "content-length")
        let status = HTTPResponseStatus(statusCode: response.status)
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
    }

    private func write(_ response: SimpleResponse, head: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "content-length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD, !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
