import NIOCore

/// State the proxy keeps per event loop: the upstream pool and the telemetry shard index.
///
/// Each instance is touched only from its own event loop, which is what makes the
/// `@unchecked Sendable` safe: it is created on the server's thread, then handed to the
/// loop's child channels and used there only (`pool` asserts it).
final class LoopContext: @unchecked Sendable {
    let pool: UpstreamPool
    let shard: Int

    init(eventLoop: any EventLoop, shard: Int) {
        self.pool = UpstreamPool(eventLoop: eventLoop)
        self.shard = shard
    }
}
