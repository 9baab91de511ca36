import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server on 127.0.0.1 in the role of Istio's tcp-echo sample: it greets each connection with its version and a
/// newline before the client says anything (as a server-first protocol such as MySQL's does), then echoes what it reads
/// with the version in front (`v1 ping`). So a client can tell which backend a connection reached, and whether the bytes
/// it sends later still reach the same one.
public final class VersionEchoBackend: Sendable {
    public let port: Int
    public let version: String
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>

    private init(channel: any Channel, version: String, accepted: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.version = version
        self.accepted = accepted
        self.port = channel.localAddress?.port ?? 0
    }

    /// Connections accepted so far.
    public var connections: Int { accepted.withLockedValue { $0 } }

    public static func start(version: String, group: any EventLoopGroup) async throws -> VersionEchoBackend {
        let accepted = NIOLockedValueBox(0)
        let channel = try await CountingServer.bind(group: group, accepted: accepted) { VersionEcho(version: version) }
        return VersionEchoBackend(channel: channel, version: version, accepted: accepted)
    }

    public func close() async {
        try? await channel.close()
    }
}

private final class VersionEcho: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let version: String

    init(version: String) { self.version = version }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "\(version)\n")), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var answer = context.channel.allocator.buffer(string: "\(version) ")
        var bytes = unwrapInboundIn(data)
        answer.writeBuffer(&bytes)
        context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
    }
}
