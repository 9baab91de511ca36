import NIOCore
import NIOPosix
import SerinDemoApp
import SerinHTTP

/// Real demo-app backends on 127.0.0.1 ephemeral ports, closed together at the end of a test.
public final class TestBackends: Sendable {
    public let group: MultiThreadedEventLoopGroup

    public init(threads: Int = 1) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Starts one demo app answering as `version`.
    public func start(_ version: String, errorRate: Double = 0, latency: Duration = .zero) async throws -> SimpleHTTPServer {
        try await DemoApp(.init(version: version, errorRate: errorRate, latency: latency))
            .serve(group: group, host: "127.0.0.1", port: 0)
    }

    /// A port nothing listens on right now, for a server the test starts on it next.
    /// For a port that must refuse connections, use `RefusingPort`.
    public func freePort() async throws -> Int {
        try await Self.freePort(group: group)
    }

    static func freePort(group: any EventLoopGroup) async throws -> Int {
        let server = try await SimpleHTTPServer.start(group: group, host: "127.0.0.1", port: 0) { _ in .text("") }
        let port = server.port
        await server.close()
        return port
    }

    public func shutdown() async {
        try? await group.shutdownGracefully()
    }
}

