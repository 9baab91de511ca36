/// Doubling waits for something that keeps failing against the API server (a watch, the first read of the
/// rollouts): from `first` up to `ceiling`, and from `first` again once it works, so a blip is retried at once and
/// an outage is not hammered.
public struct Backoff: Sendable {
    public let first: Duration
    public let ceiling: Duration
    /// The wait `wait()` takes next.
    public private(set) var next: Duration

    public init(first: Duration, ceiling: Duration = .seconds(30)) {
        self.first = first
        self.ceiling = ceiling
        next = first
    }

    /// The wait to take now; the one after is twice as long, up to the ceiling.
    public mutating func advance() -> Duration {
        defer { next = min(next * 2, ceiling) }
        return next
    }

    /// Sleeps for the next wait (less if the task is cancelled).
    public mutating func wait() async {
        try? await Task.sleep(for: advance())
    }

    /// It worked: the next failure waits `first` again.
    public mutating func reset() {
        next = first
    }
}
