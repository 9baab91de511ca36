import Foundation
import SerinCore
@testable import SerinStore
import SerinTesting
import Testing

/// An instant `seconds` after the test epoch.
func t(_ seconds: Int) -> RolloutInstant {
    RolloutInstant(sinceEpoch: .seconds(seconds))
}

/// The seed's web service (v1 stable, v2 canary), as in SerinCore's rollout tests.
enum Fixture {
    static let web = ResourceName(namespace: "shop", name: "web")
    static let api = ResourceName(namespace: "shop", name: "api")

    static func rollout(_ name: ResourceName = web, weights: [Int] = [10, 50, 80], threshold: Int = 3) throws -> Rollout {
        try RolloutFixture.rollout(name, weights: weights, threshold: threshold)
    }

    /// A rollout at 50% with one failed check behind it and an analysis in flight, plus the events it recorded.
    static func midRollout(_ name: ResourceName = web) throws -> (rollout: Rollout, events: [RolloutEvent]) {
        try RolloutFixture.midRollout(name, start: t(0))
    }

    static func measurement(
        _ canary: ResourceName = web, at seconds: Int, metric: String = "request-success-rate",
        canaryValue: Double? = 99.5, verdict: Verdict = .pass
    ) -> RecordedMeasurement {
        RecordedMeasurement(
            canary: canary, instant: t(seconds), metric: metric, canaryValue: canaryValue, stableValue: 99.9,
            canaryRequests: 120 + seconds, stableRequests: 1_080, canaryWeight: 10, verdict: verdict)
    }

    static func event(at seconds: Int, _ message: String, _ severity: RolloutEvent.Severity = .normal) -> RolloutEvent {
        RolloutEvent(instant: t(seconds), severity: severity, message: message)
    }
}

/// A fresh directory under the system's temporary directory, removed with everything in it when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/serin-store-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `name` inside this directory.
    func file(_ name: String) -> String { "\(path)/\(name)" }
}

extension SQLiteConnection {
    /// A second, raw connection on a store's file, for tests that tamper with it behind the store's back.
    static func raw(_ path: String) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA busy_timeout = 5000")
        return connection
    }

    /// The first column of the first row, as text.
    func text(_ sql: String) throws -> String? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.text(0) : nil
    }
}
