/// One Canary's side effects — saves, weight changes, the analyses and checks they start — run one after
/// another in the order its rollout decided them. Every Canary has its own lane, so a slow API server call
/// or store write for one Canary never delays another's.
final class EffectLane: Sendable {
    typealias Work = @Sendable () async -> Void

    private let continuation: AsyncStream<Work>.Continuation
    private let task: Task<Void, Never>

    /// - Parameter predecessor: a lane of the same Canary that is finishing (it was deleted and is back);
    ///   this lane starts once its work is done.
    init(after predecessor: EffectLane? = nil) {
        let (stream, continuation) = AsyncStream.makeStream(of: Work.self)
        self.continuation = continuation
        task = Task {
            await predecessor?.task.value
            for await work in stream { await work() }
        }
    }

    func enqueue(_ work: @escaping Work) {
        // A lane that has finished runs late work on its own rather than dropping it (and whoever awaits it).
        if case .terminated = continuation.yield(work) { Task { await work() } }
    }

    /// Returns once the work queued before this call is done.
    func drained() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            enqueue { done.resume() }
        }
    }

    /// Takes no more work and returns once the work already queued is done.
    func finish() async {
        continuation.finish()
        await task.value
    }

    /// Takes no more work, waits up to `grace` for the work already queued, then cancels what is still running:
    /// the work queued behind it still runs, as cancelled work, which should end at once.
    func finish(within grace: Duration) async {
        continuation.finish()
        let task = self.task
        // Unstructured, so the grace runs its full length even when the caller is a task being cancelled.
        let deadline = Task {
            try await Task.sleep(for: grace)
            task.cancel()
        }
        await task.value
        deadline.cancel()
    }
}
