import NIOConcurrencyHelpers
import SerinCore

/// A `ControllerClock` that moves only when a test moves it: `now()` stands still until `advance(by:)`, and a
/// sleeper wakes only once time has been advanced to its deadline. A controller on it ticks exactly when the
/// test says time has passed — an hour's analysis interval takes no time at all, and nothing happens between.
public final class ManualClock: ControllerClock {
    private struct Sleeper {
        var deadline: RolloutInstant
        var wake: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: RolloutInstant
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Who waits for this many sleepers to be asleep.
        var waiters: [(count: Int, resume: CheckedContinuation<Void, Never>)] = []

        /// Takes the waiters whose count of sleepers is reached.
        mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
            let count = sleepers.count
            let ready = waiters.filter { $0.count <= count }.map(\.resume)
            waiters.removeAll { $0.count <= count }
            return ready
        }
    }

    private let state: NIOLockedValueBox<State>

    public init(now start: RolloutInstant = RolloutInstant(sinceEpoch: .zero)) {
        state = NIOLockedValueBox(State(now: start))
    }

    public func now() -> RolloutInstant {
        state.withLockedValue { $0.now }
    }

    /// Suspends until the clock has been advanced to `now() + duration`; throws `CancellationError` when the
    /// sleeping task is cancelled first.
    public func sleep(for duration: Duration) async throws {
        let id = state.withLockedValue { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (wake: CheckedContinuation<Void, any Error>) in
                // Checked under the lock: a cancellation after it finds the sleeper registered and wakes it.
                let (early, ready) = state.withLockedValue { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    guard duration > .zero else { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: state.now + duration, wake: wake)
                    return (nil, state.satisfiedWaiters())
                }
                for waiter in ready { waiter.resume() }
                if let early { wake.resume(with: early) }
            }
        } onCancel: {
            state.withLockedValue { $0.sleepers.removeValue(forKey: id) }?.wake.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline that reaches, earliest first.
    /// Returns once each of them is asleep again — a controller's ticker posts its tick before it sleeps again, so
    /// the tick is in the controller's inbox by then. (A woken sleeper that never sleeps again keeps it waiting.)
    public func advance(by duration: Duration) async {
        let (woken, asleep) = state.withLockedValue { state -> ([CheckedContinuation<Void, any Error>], Int) in
            state.now = state.now + duration
            let due = state.sleepers.filter { $0.value.deadline <= state.now }.sorted { $0.value.deadline < $1.value.deadline }
            for (id, _) in due { state.sleepers[id] = nil }
            return (due.map(\.value.wake), state.sleepers.count + due.count)
        }
        for wake in woken { wake.resume() }
        if !woken.isEmpty { await sleepers(asleep) }
    }

    /// Returns once at least `count` tasks are asleep on the clock: a test starts a controller, then waits for its
    /// ticker to sleep before it moves time, so the first `advance` wakes it.
    public func sleepers(_ count: Int) async {
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.sleepers.count >= count { return true }
                state.waiters.append((count, resume))
                return false
            }
            if ready { resume.resume() }
        }
    }
}
