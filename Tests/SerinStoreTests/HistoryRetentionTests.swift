import Foundation
import SerinCore
@testable import SerinStore
import SerinTesting
import Testing

@Suite("History retention")
struct HistoryRetentionTests {
    let directory: TemporaryDirectory
    var path: String { directory.file("state.sqlite") }

    init() throws {
        directory = try TemporaryDirectory()
    }

    /// Releases v2, v3, ... of `web`, each promoted at once (no analysis) and each a minute after the last; every
    /// save carries the release's events and one measurement, as the controller's would.
    static func releases(_ count: Int, into store: SQLiteRolloutStore) throws -> Rollout {
        var spec = try RolloutFixture.spec(Fixture.web, writesStable: false)
        spec.skipAnalysis = true
        var rollout = try Rollout(spec: spec, stable: RolloutFixture.destination(of: Fixture.web, "v1"))
        for release in 0..<count {
            let now = t(release * 60)
            let actions: [RolloutAction]
            if release == 0 {
                guard case .accepted(let started) = rollout.start(now: now) else { throw Refused() }
                actions = started
            } else {
                spec.canary = RolloutFixture.destination(of: Fixture.web, "v\(release + 2)")
                spec.stable = nil
                // A finished rollout adopts the new canary; `serin rollout` releases it.
                guard case .accepted = rollout.specChanged(spec, now: now), case .accepted(let restarted) = rollout.restart(now: now) else {
                    throw Refused()
                }
                actions = restarted
            }
            let events = actions.compactMap { if case .record(let event) = $0 { event } else { nil } }
            try store.save(rollout, events: events, measurements: [Fixture.measurement(at: release * 60 + 1)])
        }
        return rollout
    }

    struct Refused: Error {}

    @Test("keeping the last 3 releases leaves exactly their events and measurements, whatever came before")
    func keepsTheLastReleases() throws {
        let store = try SQLiteRolloutStore(path: path, retention: HistoryRetention(releases: 3))
        let rollout = try Self.releases(12, into: store)
        let oldestKept = rollout.status.releases[rollout.status.releases.count - 3].startedAt
        let measurements = try store.measurements(for: Fixture.web)
        #expect(measurements.map(\.instant) == [t(9 * 60 + 1), t(10 * 60 + 1), t(11 * 60 + 1)])
        let events = try store.events(for: Fixture.web)
        #expect(!events.isEmpty && events.allSatisfy { $0.instant >= oldestKept }, "\(events)")
        #expect(events.contains { $0.message.contains("web-v11-service") }, "the oldest kept release's own events stay")
    }

    @Test("an age keeps what happened within it before the newest entry; with releases too, whichever keeps less")
    func keepsAnAge() throws {
        let byAge = try SQLiteRolloutStore(path: directory.file("age.sqlite"), retention: HistoryRetention(maxAge: .seconds(150)))
        _ = try Self.releases(10, into: byAge)
        #expect(try byAge.measurements(for: Fixture.web).map(\.instant) == [t(7 * 60 + 1), t(8 * 60 + 1), t(9 * 60 + 1)])
        let both = try SQLiteRolloutStore(path: directory.file("both.sqlite"), retention: HistoryRetention(releases: 2, maxAge: .seconds(150)))
        _ = try Self.releases(10, into: both)
        #expect(try both.measurements(for: Fixture.web).map(\.instant) == [t(8 * 60 + 1), t(9 * 60 + 1)])
    }

    @Test("without retention every release's history stays, as before")
    func unlimitedKeepsAll() throws {
        let store = try SQLiteRolloutStore(path: path)
        _ = try Self.releases(12, into: store)
        #expect(try store.measurements(for: Fixture.web).count == 12)
    }

    @Test("the state file stops growing: 10,000 releases under retention leave it the size 100 did")
    func fileSizeIsBounded() throws {
        let store = try SQLiteRolloutStore(path: path, retention: HistoryRetention(releases: 5))
        func size() throws -> Int {
            // The write-ahead log is folded into the file so both readings measure the same thing.
            try SQLiteConnection.raw(path).execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        }
        _ = try Self.releases(100, into: store)
        let after100 = try size()
        _ = try Self.releases(10_000, into: store)
        let after10000 = try size()
        print("state file keeping 5 releases: \(after100) bytes after 100 releases, \(after10000) after 10,000 more")
        #expect(after10000 <= after100 + 8_192, "\(after100) bytes after 100 releases, \(after10000) after 10,000 more")
    }

    @Test("--history-retention reads releases, an age or both, and refuses what keeps nothing or is not either", arguments: [
        ("10", HistoryRetention(releases: 10)), ("7d", HistoryRetention(maxAge: .seconds(7 * 86_400))),
        ("5, 168h", HistoryRetention(releases: 5, maxAge: .seconds(168 * 3_600))), ("90s", HistoryRetention(maxAge: .seconds(90))),
    ])
    func parses(text: String, expected: HistoryRetention) throws {
        #expect(try HistoryRetention(parsing: text) == expected)
    }

    @Test("bad --history-retention values are refused with the reason", arguments: [
        ("0", "--history-retention \"0\": 0 releases keeps nothing; give 1 or more"),
        ("30", "--history-retention \"30\": 30 releases is more than the 20 a Canary's state remembers; give at most 20, or an age"),
        ("a week", "--history-retention \"a week\": a week is neither a number of releases (10) nor an age (168h, 30m, 90s)"),
        ("0s", "--history-retention \"0s\": 0s keeps nothing; give an age above 0"),
        ("10,20", "--history-retention \"10,20\": gives a number of releases twice (10 and 20); give one, and one age"),
        ("7d,1h", "--history-retention \"7d,1h\": gives an age twice; give one, and one number of releases"),
    ])
    func refuses(text: String, expected: String) {
        #expect(throws: HistoryRetention.Invalid.self) { try HistoryRetention(parsing: text) }
        do {
            _ = try HistoryRetention(parsing: text)
        } catch {
            #expect(error.description == expected)
        }
    }
}
