import NIOConcurrencyHelpers

/// A gate tasks wait at until a test opens it: holds an adapter call (a slow API server, a slow store) for
/// exactly as long as the test needs, instead of a sleep that is too short on a busy machine.
public final class AsyncGate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Returns at once when the gate is open, else when it opens.
    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waits = state.withLockedValue { state in
                if state.isOpen { return false }
                state.waiters.append(continuation)
                return true
            }
            if !waits { continuation.resume() }
        }
    }

    /// Lets every waiting and future caller through.
    public func open() {
        let waiters = state.withLockedValue { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
