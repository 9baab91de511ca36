import NIOCore
import NIOPosix
import Synchronization

/// A backend on 127.0.0.1 that accepts connections and never reads from them: what a request body sent to it fills
/// is the kernel's socket buffers, then nothing, so a test sees whether a proxy stops taking a client's upload it
/// cannot pass on (backpressure) or buffers all of it.
public final class StalledBackend: Sendable {
    public let port: Int
    private let channel: any Channel
    private let accepted: Accepted

    private init(port: Int, channel: any Channel, accepted: Accepted) {
        self.port = port
        self.channel = channel
        self.accepted = accepted
    }

    /// Connections accepted so far.
    public var acceptedConnections: Int { accepted.count.load(ordering: .relaxed) }

    public static func start(group: any EventLoopGroup) async throws -> StalledBackend {
        let accepted = Accepted()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                accepted.count.add(1, ordering: .relaxed)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return StalledBackend(port: channel.localAddress?.port ?? 0, channel: channel, accepted: accepted)
    }

    public func close() async { try? await channel.close() }

    private final class Accepted: Sendable {
        let count = Atomic<Int>(0)
    }
}
