import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// An HTTP backend on 127.0.0.1 that speaks HTTP/1.1 and h2c with prior knowledge on one port and answers each
/// request with the protocol it came in (`HTTP/1.1` or `HTTP/2`), after `delay`: for tests of which protocol a
/// proxy chose upstream, and over how many connections. NIO's HTTP/1 codec, and NIOHTTP2 with its HTTP/1 codec per
/// stream, do the speaking.
public final class ProtocolReportingBackend: Sendable {
    public let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>
    private let goAways: NIOLockedValueBox<Int>

    private init(port: Int, channel: any Channel, accepted: NIOLockedValueBox<Int>, goAways: NIOLockedValueBox<Int>) {
        self.port = port
        self.channel = channel
        self.accepted = accepted
        self.goAways = goAways
    }

    /// Connections accepted so far.
    public var acceptedConnections: Int { accepted.withLockedValue { $0 } }

    /// GOAWAY frames received from clients over HTTP/2 so far: how many connections a client said it was done with.
    public var goAwaysReceived: Int { goAways.withLockedValue { $0 } }

    public static func start(group: any EventLoopGroup, delay: TimeAmount = .zero) async throws -> ProtocolReportingBackend {
        let accepted = NIOLockedValueBox(0)
        let goAways = NIOLockedValueBox(0)
        let channel = try await CountingServer.bind(group: group, accepted: accepted) { PrefaceSniffer(delay: delay, goAways: goAways) }
        return ProtocolReportingBackend(port: channel.localAddress?.port ?? 0, channel: channel, accepted: accepted, goAways: goAways)
    }

    public func close() async {
        try? await channel.close()
    }

    /// Looks at a connection's first bytes: HTTP/2's preface gets NIOHTTP2, anything else NIO's HTTP/1 server.
    private final class PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        private let delay: TimeAmount
        private let goAways: NIOLockedValueBox<Int>
        private var received: ByteBuffer?

        init(delay: TimeAmount, goAways: NIOLockedValueBox<Int>) {
            self.delay = delay
            self.goAways = goAways
        }
        private static let preface = Array("PRI * HTTP/2.0".utf8)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            if var earlier = received {
                earlier.writeBuffer(&bytes)
                bytes = earlier
            }
            guard bytes.readableBytes >= Self.preface.count else {
                received = bytes
                return
            }
            let http2 = bytes.readableBytesView.prefix(Self.preface.count).elementsEqual(Self.preface)
            do {
                let pipeline = context.pipeline.syncOperations
                let delay = self.delay
                if http2 {
                    _ = try pipeline.configureHTTP2Pipeline(mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandlers([
                                HTTP2FramePayloadToHTTP1ServerCodec(), Answer(protocolName: "HTTP/2", delay: delay),
                            ])
                        }
                    }
                    // NIOHTTP2 passes the connection's own frames (stream 0) on down the connection's pipeline.
                    try pipeline.addHandler(GoAwayCounter(count: goAways), position: .last)
                } else {
                    try pipeline.configureHTTPServerPipeline(position: .last)
                    try pipeline.addHandler(Answer(protocolName: "HTTP/1.1", delay: delay), position: .last)
                }
            } catch {
                context.close(promise: nil)
                return
            }
            received = nil
            context.fireChannelRead(NIOAny(bytes))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// Counts the GOAWAY frames a client sends.
    private final class GoAwayCounter: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        let count: NIOLockedValueBox<Int>

        init(count: NIOLockedValueBox<Int>) {
            self.count = count
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .goAway = unwrapInboundIn(data).payload { count.withLockedValue { $0 += 1 } }
            context.fireChannelRead(data)
        }
    }

    /// Answers every request `200` with the protocol's name as its body.
    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let protocolName: String
        let delay: TimeAmount

        init(protocolName: String, delay: TimeAmount) {
            self.protocolName = protocolName
            self.delay = delay
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            guard delay > .zero else { return answer(context: context) }
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.answer(context: context) }
        }

        private func answer(context: ChannelHandlerContext) {
            let body = context.channel.allocator.buffer(string: protocolName)
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: String(body.readableBytes))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
