import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server on an ephemeral 127.0.0.1 port that counts the connections it accepts and gives each a handler of
/// its own: what a test backend needs to say how many connections a proxy opened to it.
enum CountingServer {
    static func bind(
        group: any EventLoopGroup, accepted: NIOLockedValueBox<Int>, handler: @escaping @Sendable () -> any ChannelHandler
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }
}
