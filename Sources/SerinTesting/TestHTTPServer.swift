import Hummingbird
import NIOCore
import SerinListener

/// A test's own HTTP server on Hummingbird, on 127.0.0.1: every request, whatever its method and path, read
/// whole and answered by one closure (a fake Prometheus, a webhook receiver, a mirror target, a port kept busy).
public enum TestHTTPServer {
    public static func start(
        group: any EventLoopGroup, port: Int = 0, _ answer: @escaping @Sendable (CollectedRequest) async -> Response
    ) async throws -> HTTPListener {
        try await HTTPListener.start(host: "127.0.0.1", port: port, group: group, answering: answer)
    }
}
