import Hummingbird
import NIOCore
import SerinListener

/// A test's own HTTP server on Hummingbird: every request, whatever its method and path, read whole and
/// answered by one closure (a fake Prometheus, a webhook receiver, a mirror target, a port kept busy).
public enum TestHTTPServer {
    public static func start(
        group: any EventLoopGroup, host: String = "127.0.0.1", port: Int = 0,
        _ answer: @escaping @Sendable (CollectedRequest) async -> Response
    ) async throws -> HTTPListener {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await answer(try await CollectedRequest(collecting: request))
        }
        return try await HTTPListener.start(responder, host: host, port: port, group: group)
    }
}
