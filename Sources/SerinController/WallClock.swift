import Foundation
import SerinCore

/// Wall-clock time since the Unix epoch, so instants stored before a restart still compare after it.
public struct WallClock: ControllerClock {
    public init() {}

    public func now() -> RolloutInstant {
        RolloutInstant(sinceEpoch: .nanoseconds(Int64(Date().timeIntervalSince1970 * 1_000_000_000)))
    }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
