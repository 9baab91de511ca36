import Hummingbird
import SerinListener
import Synchronization

/// What `/readyz` answers: not ready until the gateway listens and the controller has loaded its state
/// and taken up the configured Canaries; not ready again once shutdown begins, so a load balancer
/// stops sending before the listeners close.
public final class Readiness: Sendable {
    private let notReadyReason = Mutex<String?>("starting: loading state and configuring rollouts")
    /// Asked on every probe once marked ready: why the process is not ready now (the controller's Kubernetes API
    /// failing), or nil.
    private let condition: @Sendable () -> String?

    public init(condition: @escaping @Sendable () -> String? = { nil }) {
        self.condition = condition
    }

    public func markReady() { notReadyReason.withLock { $0 = nil } }

    public func markStopping() { notReadyReason.withLock { $0 = "shutting down" } }

    public var response: Response {
        if let reason = notReadyReason.withLock({ $0 }) ?? condition() {
            return .json(ReadinessView(ready: false, reason: reason), status: 503)
        }
        return .json(ReadinessView(ready: true, reason: nil))
    }

    struct ReadinessView: Encodable {
        var ready: Bool
        var reason: String?
    }
}
