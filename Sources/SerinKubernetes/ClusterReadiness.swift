import SerinCore
import Synchronization

/// Why `serin controller` is not ready for its `/readyz`: a controller that cannot reach its API server keeps
/// running and trying, but must not look healthy. While it leads it is not ready until it has read its Canaries
/// once; leading or not, it is not ready while a watch, or its reads and writes of the Lease (`--leader-elect`),
/// have been failing for longer than `patience`. A standby that reaches the Lease is ready: it has nothing else to
/// read until it leads.
public final class ClusterReadiness: Sendable {
    public let patience: Duration
    private let state: Mutex<State>

    private struct State {
        var leading: Bool
        var canariesRead = false
        /// Each failing watch, by label: since when, and its last error.
        var failing: [String: (since: ContinuousClock.Instant, why: String)] = [:]
        /// The last error met before the Canaries were read.
        var lastProblem: String?
    }

    /// - Parameter leading: whether this replica leads from the start (no leader election).
    public init(leading: Bool, patience: Duration = .seconds(30)) {
        self.patience = patience
        state = Mutex(State(leading: leading))
    }

    /// This replica starts leading (its Canaries are read afresh) or stops.
    public func leading(_ isLeading: Bool) {
        state.withLock { state in
            // A new term reads its Canaries afresh; whether the Lease answers is the same question either way.
            var next = State(leading: isLeading)
            next.failing = state.failing.filter { $0.key.hasPrefix(Self.leasePrefix) }
            state = next
        }
    }

    /// How the Lease's label starts (`LeaderElector`): its failures outlive a change of leadership.
    static let leasePrefix = "the Lease "

    /// Every Canary resource has been listed.
    func canariesRead() {
        state.withLock { $0.canariesRead = true }
    }

    /// The watch of `label` listed or delivered (or the Lease answered): it works again.
    public func succeeded(_ label: String) {
        _ = state.withLock { $0.failing.removeValue(forKey: label) }
    }

    /// The watch of `label` (or the first read, `label` nil) failed with `why`.
    public func failed(_ label: String?, _ why: String) {
        state.withLock { state in
            state.lastProblem = why
            guard let label else { return }
            state.failing[label] = (state.failing[label]?.since ?? .now, why)
        }
    }

    /// Why the controller is not ready now; nil when it is.
    public var notReadyReason: String? {
        state.withLock { state in
            if state.leading && !state.canariesRead {
                return "the Canaries have not been read from the Kubernetes API yet" + (state.lastProblem.map { " (\($0))" } ?? "")
            }
            let now = ContinuousClock.now
            guard let oldest = state.failing.min(by: { $0.value.since < $1.value.since }), now - oldest.value.since >= patience else {
                return nil
            }
            let failingFor = Duration.seconds((now - oldest.value.since).components.seconds)
            return "watching \(oldest.key) has failed for \(Readable.duration(failingFor)) (\(oldest.value.why))"
        }
    }
}
