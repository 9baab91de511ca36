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

extension RolloutInstant {
    /// Seconds since the Unix epoch, for instants taken by `WallClock`.
    public var unixSeconds: Double {
        Double(sinceEpoch.components.seconds) + Double(sinceEpoch.components.attoseconds) / 1e18
    }
}
