import Synchronization
import NIOCore
import NIOPosix
import SerinDemoApp
import SerinListener

/// Real demo-app backends on 127.0.0.1 ephemeral ports, closed together at the end of a test.
public final class TestBackends: Sendable {
    public let group: MultiThreadedEventLoopGroup

    public init(threads: Int = 1) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Starts one demo app answering as `version`.
    public func start(_ version: String, errorRate: Double = 0, latency: Duration = .zero) async throws -> HTTPListener {
        try await DemoApp(.init(version: version, errorRate: errorRate, latency: latency))
            .serve(group: group, host: "127.0.0.1", port: 0)
    }

    /// A port nothing listens on right now, for a server the test starts on it next.
    /// For a port that must refuse connections, use `RefusingPort`.
    public func freePort() async throws -> Int {
        try await Self.freePort(group: group)
    }

    /// Taken in turn, from a random start, below the kernel's ephemeral range (32768 and up on Linux) and below
    /// the fixed ports some tests use (25000 and up; a fixed port in 20000-24999 would be handed out here too, and a
    /// test binding it between this check and its user's bind takes that port, and, taken in turn, its neighbours): a port from the ephemeral range, free a moment ago, can
    /// become the local port of any outgoing connection before the test binds it; and taking them in turn, never
    /// at random, keeps two tests from being handed the same port before either has bound it.
    static func freePort(group: any EventLoopGroup) async throws -> Int {
        var lastError: (any Error)?
        for _ in 0..<50 {
            let candidate = 20_000 + nextPort.add(1, ordering: .relaxed).oldValue % 5_000
            do {
                let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: candidate).get()
                try await listener.close()
                return candidate
            } catch {
                lastError = error
            }
        }
        throw lastError ?? PortsExhausted()
    }

    private static let nextPort = Atomic<Int>(Int.random(in: 0..<5_000))

    struct PortsExhausted: Error, CustomStringConvertible {
        var description: String { "no free port found in 20000-24999 after 50 tries" }
    }

    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}

