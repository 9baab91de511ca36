import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection that sends requests one after another and reads each answer whole: a
/// test's client.
///
/// Product code talks HTTP through AsyncHTTPClient. Tests keep this one because they pin what a pooled client
/// hides: that requests share exactly one connection (keep-alive, reuse across a configuration swap), when the
/// server closes it (`isActive`), the Host header as written, and a deadline that closes the connection.
public final class SimpleHTTPClient: Sendable {
    /// A whole answer, as tests read it.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8] = []

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<SimpleResponseHandler>
    public let host: String
    public let port: Int

    private init(channel: any Channel, handler: NIOLoopBound<SimpleResponseHandler>, host: String, port: Int) {
        self.channel = channel
        self.handler = handler
        self.host = host
        self.port = port
    }

    /// Opens a connection to `host:port`.
    public static func connect(
        host: String, port: Int, group: any EventLoopGroup, timeout: TimeAmount = .seconds(5)
    ) async throws -> SimpleHTTPClient {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(SimpleResponseHandler())
                }
            }
            .connect(host: host, port: port)
            .get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: SimpleResponseHandler.self), eventLoop: channel.eventLoop
            )
        }.get()
        return SimpleHTTPClient(channel: channel, handler: handler, host: host, port: port)
    }

    /// Sends one request and waits for the whole response. Throws if the connection closes first, or
    /// when `timeout` passes without a whole response (the connection is closed then).
    public func send(
        _ method: HTTPMethod, _ uri: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: TimeAmount? = nil
    ) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers.map { ($0.name, $0.value) }))
        if !head.headers.contains(name: "host") { head.headers.add(name: "host", value: "\(host):\(port)") }
        if let body { head.headers.replaceOrAdd(name: "content-length", value: String(body.count)) }
        let requestHead = head
        let handler = self.handler
        let channel = self.channel
        let promise = channel.eventLoop.makePromise(of: Response.self)
        channel.eventLoop.execute {
            // A connection the server closed already would never answer.
            guard channel.isActive else {
                promise.fail(ConnectionClosedError())
                return
            }
            handler.value.expect(promise)
            channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
            if let body, !body.isEmpty {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            if let timeout {
                let timer = channel.eventLoop.scheduleTask(in: timeout) {
                    promise.fail(ResponseTimeoutError(timeout: timeout))
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { _ in timer.cancel() }
            }
        }
        return try await promise.futureResult.get()
    }

    public var isActive: Bool { channel.isActive }

    /// The connection's own port: how a test finds the server's end of it.
    public var localPort: Int? { channel.localAddress?.port }

    public func close() async {
        try? await channel.close()
    }
}

/// Error when no whole response arrived within the time a caller allowed.
public struct ResponseTimeoutError: Error, CustomStringConvertible {
    public let timeout: TimeAmount
    public var description: String { "no response within \(timeout.nanoseconds / 1_000_000)ms" }
}

/// Error when a connection closes before its response is complete.
public struct ConnectionClosedError: Error, CustomStringConvertible {
    public var description: String { "connection closed before the response was complete" }
}

/// Assembles responses and completes the waiting requests in order.
final class SimpleResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting: [EventLoopPromise<SimpleHTTPClient.Response>] = []
    private var current: SimpleHTTPClient.Response?

    func expect(_ promise: EventLoopPromise<SimpleHTTPClient.Response>) {
        waiting.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = SimpleHTTPClient.Response(status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) })
        case .body(var buffer):
            current?.body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            if let current, !waiting.isEmpty {
                waiting.removeFirst().succeed(current)
            }
            current = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ConnectionClosedError())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        let pending = waiting
        waiting = []
        for promise in pending { promise.fail(error) }
    }
}
