import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import SerinListener

/// A real HTTP webhook receiver on 127.0.0.1 whose answer a test can switch, recording every call.
public final class WebhookServer: Sendable {
    private let server: HTTPListener
    /// The steady answer, and those that come first, one call each.
    private let answer: NIOLockedValueBox<(steady: Int, first: [Int])>
    private let received: NIOLockedValueBox<[CollectedRequest]>
    /// The `Retry-After` every failed answer carries, when set.
    private let retryAfter: NIOLockedValueBox<String?>

    private init(
        server: HTTPListener, answer: NIOLockedValueBox<(steady: Int, first: [Int])>, received: NIOLockedValueBox<[CollectedRequest]>,
        retryAfter: NIOLockedValueBox<String?>
    ) {
        self.server = server
        self.answer = answer
        self.received = received
        self.retryAfter = retryAfter
    }

    /// Starts answering every POST with `status`.
    public static func start(group: any EventLoopGroup, status: Int) async throws -> WebhookServer {
        let answer = NIOLockedValueBox((steady: status, first: [Int]()))
        let received = NIOLockedValueBox<[CollectedRequest]>([])
        let retryAfter = NIOLockedValueBox<String?>(nil)
        let server = try await TestHTTPServer.start(group: group) { request in
            received.withLockedValue { $0.append(request) }
            let status = answer.withLockedValue { answer in answer.first.isEmpty ? answer.steady : answer.first.removeFirst() }
            var headers = HTTPFields()
            if status >= 300, let wait = retryAfter.withLockedValue({ $0 }) { headers[.retryAfter] = wait }
            return .text(status < 300 ? "ok\n" : "not yet\n", status: status, headers: headers)
        }
        return WebhookServer(server: server, answer: answer, received: received, retryAfter: retryAfter)
    }

    /// From now on every failed answer says `Retry-After: value` (nil: none).
    public func askRetryAfter(_ value: String?) { retryAfter.withLockedValue { $0 = value } }

    public var url: String { "http://127.0.0.1:\(server.port)/hook" }

    /// From now on, answer with `status`.
    public func answer(_ status: Int) { answer.withLockedValue { $0 = (status, []) } }

    /// The next calls are answered with `statuses`, one each, then with `status`: a hook that fails, then passes.
    public func answer(first statuses: [Int], then status: Int) { answer.withLockedValue { $0 = (status, statuses) } }

    public var calls: [CollectedRequest] { received.withLockedValue { $0 } }

    public func close() async { await server.close() }
}
