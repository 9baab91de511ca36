import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP backend on 127.0.0.1 that counts what a proxy does to it: connections accepted, the most open at
/// once, requests answered. It answers every request `200 ok`, or holds the answers while `hold()` is on, so
/// a test can keep connections busy and see what a connection limit lets through.
public final class ObservedBackend: Sendable {
    public let port: Int
    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    struct State {
        var accepted = 0
        var open = 0
        var peakOpen = 0
        var requests = 0
        var holding = false
        var held: [@Sendable () -> Void] = []
    }

    private init(port: Int, channel: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.channel = channel
        self.state = state
    }

    public static func start(group: any EventLoopGroup) async throws -> ObservedBackend {
        let state = NIOLockedValueBox(State())
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue { state in
                    state.accepted += 1
                    state.open += 1
                    state.peakOpen = max(state.peakOpen, state.open)
                }
                channel.closeFuture.whenComplete { _ in state.withLockedValue { $0.open -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Answering(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ObservedBackend(port: channel.localAddress?.port ?? 0, channel: channel, state: state)
    }

    /// Connections accepted so far.
    public var acceptedConnections: Int { state.withLockedValue { $0.accepted } }
    /// Connections open right now.
    public var openConnections: Int { state.withLockedValue { $0.open } }
    /// The most connections that were open at the same time.
    public var peakOpenConnections: Int { state.withLockedValue { $0.peakOpen } }
    /// Requests received (answered or held).
    public var requests: Int { state.withLockedValue { $0.requests } }
    /// Requests whose answers are held right now.
    public var heldRequests: Int { state.withLockedValue { $0.held.count } }

    /// Holds every answer from now on until `release()`.
    public func hold() { state.withLockedValue { $0.holding = true } }

    /// Sends the held answers and answers at once from now on.
    public func release() {
        let held = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for answer in held { answer() }
    }

    public func close() async {
        release()
        try? await channel.close()
    }

    private final class Answering: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let state: NIOLockedValueBox<State>

        init(state: NIOLockedValueBox<State>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let answer: @Sendable () -> Void = {
                loop.execute {
                    let context = bound.value
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "3")
                    context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(string: "ok\n")))), promise: nil)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
                }
            }
            let now = state.withLockedValue { state -> Bool in
                state.requests += 1
                if state.holding { state.held.append(answer) }
                return !state.holding
            }
            if now { answer() }
        }
    }
}
