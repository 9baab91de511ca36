import NIOCore
import NIOHTTP1
import NIOPosix

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

    private init(channel: any Channel, host: String) {
        self.channel = channel
        self.host = host
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and serves `handler`. Bodies larger than `maxBodyBytes` get 413.
    public static func start(
        group: any EventLoopGroup, host: String, port: Int, maxBodyBytes: Int = 16 << 20,
        handler: @escaping Handler
    ) async throws -> SimpleHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        SimpleRequestHandler(handler: handler, maxBodyBytes: maxBodyBytes)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return SimpleHTTPServer(channel: channel, host: host)
    }

    /// Stops accepting connections.
    public func close() async {
        try? await channel.close()
    }
}

/// Collects one request at a time and writes the handler's answer.
final class SimpleRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: SimpleHTTPServer.Handler
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(handler: @escaping SimpleHTTPServer.Handler, maxBodyBytes: Int) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
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
            let promise = context.eventLoop.makePromise(of: SimpleResponse.self)
            promise.completeWithTask { await handler(request) }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.write(response, head: head, keepAlive: keepAlive, context: context)
            }
        }
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
