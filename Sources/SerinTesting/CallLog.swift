import NIOConcurrencyHelpers

/// The calls several fakes received, in the one order they arrived: for tests about which port is asked first
/// (the store saves a decision before the router carries it out). `MemoryRolloutStore` and `RecordingRouter`
/// write to one when given it.
public final class CallLog: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    public init() {}

    /// Every call so far, oldest first (`save web: Progressing at 10%`, `setWeights web: 90/10`).
    public var entries: [String] { lines.withLockedValue { $0 } }

    public func record(_ line: String) {
        lines.withLockedValue { $0.append(line) }
    }
}
