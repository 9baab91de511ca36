/// A point in time as the caller's clock saw it, so the rollout brain never reads a clock itself.
///
/// It counts a `Duration` from an epoch the caller chooses (process start, Unix epoch...);
/// only differences between instants matter to the state machine.
public struct RolloutInstant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var sinceEpoch: Duration

    public init(sinceEpoch: Duration) {
        self.sinceEpoch = sinceEpoch
    }

    public static func + (instant: RolloutInstant, duration: Duration) -> RolloutInstant {
        RolloutInstant(sinceEpoch: instant.sinceEpoch + duration)
    }

    public static func - (later: RolloutInstant, earlier: RolloutInstant) -> Duration {
        later.sinceEpoch - earlier.sinceEpoch
    }

    public static func < (lhs: RolloutInstant, rhs: RolloutInstant) -> Bool {
        lhs.sinceEpoch < rhs.sinceEpoch
    }

    public var description: String { "t+\(Readable.duration(sinceEpoch))" }
}
