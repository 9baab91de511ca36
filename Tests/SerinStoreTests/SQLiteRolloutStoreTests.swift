import Foundation
import SerinCore
@testable import SerinStore
import Testing

@Suite("SQLite rollout store")
struct SQLiteRolloutStoreTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.file(".serin/state.sqlite")
    }

    @Test("a mid-rollout saved by one store loads back equal in a new store on the same file")
    func roundTripAcrossRestart() throws {
        let (original, events) = try Fixture.midRollout()
        #expect(original.status.canaryWeight == 50)
        #expect(original.status.failedChecks == 1)
        #expect(original.status.pending?.kind == .analysis)
        #expect(!events.isEmpty)

        let first = try SQLiteRolloutStore(path: path)
        try first.save(original, events: events, measurements: [Fixture.measurement(at: 31)])
        first.close()

        let second = try SQLiteRolloutStore(path: path)
        let loaded = try second.loadRollouts()
        #expect(loaded == [Fixture.web: original])
        #expect(try second.events(for: Fixture.web) == events)
        #expect(try second.measurements(for: Fixture.web) == [Fixture.measurement(at: 31)])
    }

    @Test("a state file deleted or replaced while the store is open fails the next save with why, rather than saving where no restart reads")
    func deletedOrReplacedFileFailsSaves() throws {
        let (rollout, events) = try Fixture.midRollout()
        for replaced in [false, true] {
            let store = try SQLiteRolloutStore(path: path)
            try store.save(rollout, events: events, measurements: [])
            try FileManager.default.removeItem(atPath: path)
            if replaced { try Data("other".utf8).write(to: URL(fileURLWithPath: path)) }
            #expect {
                try store.save(rollout, events: [], measurements: [])
            } throws: { error in
                let text = "\(error)"
                return text.hasPrefix("cannot save rollout shop/web in state file \(path): the file \(replaced ? "was replaced by another file" : "was deleted") while Serin runs")
                    && text.contains("restart Serin when no rollout is in flight")
            }
            store.close()
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @Test("a MetricTemplate's measurement, with no request count, reads back with none, not 0 requests")
    func uncountedMeasurementRoundTrip() throws {
        var custom = Fixture.measurement(at: 31, metric: "error-budget", canaryValue: 0.25)
        custom.canaryRequests = nil
        custom.stableRequests = nil
        let store = try SQLiteRolloutStore(path: path)
        defer { store.close() }
        try store.save(try Fixture.rollout(), events: [], measurements: [custom, Fixture.measurement(at: 31)])
        let read = try store.measurements(for: Fixture.web, limit: nil)
        #expect(read == [custom, Fixture.measurement(at: 31)])
        #expect(read.first?.canaryRequests == nil && read.last?.canaryRequests == 151)
    }

    @Test("a measurement taken on mirrored copies of requests reads back marked so; one on live traffic unmarked")
    func mirroredMeasurementRoundTrip() throws {
        let mirrored = RecordedMeasurement(
            canary: Fixture.web, instant: t(31), metric: "request-success-rate", canaryValue: 100, stableValue: 99.9,
            canaryRequests: 60, stableRequests: 600, canaryWeight: 0, verdict: .pass, mirrored: true)
        #expect(mirrored.mirrored == true)
        let store = try SQLiteRolloutStore(path: path)
        try store.save(try Fixture.rollout(), events: [], measurements: [mirrored, Fixture.measurement(at: 61)])
        store.close()
        let reopened = try SQLiteRolloutStore(path: path)
        defer { reopened.close() }
        let read = try reopened.measurements(for: Fixture.web, limit: nil)
        #expect(read == [mirrored, Fixture.measurement(at: 61)])
        #expect(read.map(\.mirrored) == [true, nil])
    }

    @Test("a later save replaces the state and appends to the history")
    func laterSaveReplacesStateAppendsHistory() throws {
        let store = try SQLiteRolloutStore(path: path)
        let initial = try Fixture.rollout()
        let (progressed, _) = try Fixture.midRollout()
        try store.save(initial, events: [Fixture.event(at: 0, "created")], measurements: [])
        try store.save(progressed, events: [Fixture.event(at: 1, "started")], measurements: [])

        #expect(try store.loadRollouts() == [Fixture.web: progressed])
        #expect(try store.events(for: Fixture.web).map(\.message) == ["created", "started"])
    }

    @Test("events and measurements come back oldest first, in the order they were saved")
    func historyOrder() throws {
        let store = try SQLiteRolloutStore(path: path)
        let rollout = try Fixture.rollout()
        // Instants deliberately out of order: the order saved is what counts, not the clock.
        let batches = [[(5, "a"), (3, "b")], [], [(9, "c")], [(1, "d"), (2, "e"), (2, "f")]]
        var allEvents: [RolloutEvent] = []
        var allMeasurements: [RecordedMeasurement] = []
        for batch in batches {
            let events = batch.map { Fixture.event(at: $0.0, $0.1, $0.0.isMultiple(of: 2) ? .warning : .normal) }
            let measurements = batch.map { Fixture.measurement(at: $0.0, metric: $0.1) }
            try store.save(rollout, events: events, measurements: measurements)
            allEvents += events
            allMeasurements += measurements
        }
        #expect(try store.events(for: Fixture.web, limit: nil) == allEvents)
        #expect(try store.measurements(for: Fixture.web, limit: nil) == allMeasurements)
    }

    @Test("a limit returns the newest entries, oldest first", arguments: [0, 1, 3, 6, 50])
    func limitReturnsNewest(limit: Int) throws {
        let store = try SQLiteRolloutStore(path: path)
        let events = (0..<6).map { Fixture.event(at: $0 * 30, "check \($0)") }
        let measurements = (0..<6).map { Fixture.measurement(at: $0 * 30) }
        for (event, measurement) in zip(events, measurements) {
            try store.save(try Fixture.rollout(), events: [event], measurements: [measurement])
        }
        #expect(try store.events(for: Fixture.web, limit: limit) == Array(events.suffix(limit)))
        #expect(try store.measurements(for: Fixture.web, limit: limit) == Array(measurements.suffix(limit)))
    }

    @Test("each canary keeps its own state and history")
    func canariesAreSeparate() throws {
        let store = try SQLiteRolloutStore(path: path)
        let web = try Fixture.midRollout(Fixture.web)
        let api = try Fixture.rollout(Fixture.api, weights: [25, 50])
        try store.save(web.rollout, events: web.events, measurements: [Fixture.measurement(Fixture.web, at: 31)])
        try store.save(api, events: [Fixture.event(at: 0, "api created")], measurements: [Fixture.measurement(Fixture.api, at: 7)])

        #expect(try store.loadRollouts() == [Fixture.web: web.rollout, Fixture.api: api])
        #expect(try store.events(for: Fixture.api, limit: nil).map(\.message) == ["api created"])
        #expect(try store.events(for: Fixture.web, limit: nil) == web.events)
        #expect(try store.measurements(for: Fixture.api, limit: nil) == [Fixture.measurement(Fixture.api, at: 7)])
        #expect(try store.events(for: ResourceName(namespace: "shop", name: "unknown"), limit: nil) == [])
    }

    @Test("a failing insert rolls back the whole save: the old state and history stay", arguments: ["events", "measurements"])
    func saveIsAtomic(failingTable: String) throws {
        let store = try SQLiteRolloutStore(path: path)
        let before = try Fixture.rollout()
        try store.save(before, events: [Fixture.event(at: 0, "created")], measurements: [Fixture.measurement(at: 0)])

        // The rollout upsert runs first and succeeds; the insert into `failingTable` then aborts.
        let raw = try SQLiteConnection.raw(path)
        try raw.execute("""
            CREATE TRIGGER fail_insert BEFORE INSERT ON \(failingTable) BEGIN SELECT RAISE(ABORT, 'disk on fire'); END
            """)
        let (after, events) = try Fixture.midRollout()
        let error = #expect(throws: StoreError.self) {
            try store.save(after, events: events, measurements: [Fixture.measurement(at: 31)])
        }
        #expect(error?.description == "cannot save rollout shop/web in state file \(path): disk on fire")

        #expect(try store.loadRollouts() == [Fixture.web: before])
        #expect(try store.events(for: Fixture.web, limit: nil).map(\.message) == ["created"])
        #expect(try store.measurements(for: Fixture.web, limit: nil) == [Fixture.measurement(at: 0)])

        // No transaction was left open: once the fault is gone, the same save goes through.
        try raw.execute("DROP TRIGGER fail_insert")
        try store.save(after, events: events, measurements: [Fixture.measurement(at: 31)])
        #expect(try store.loadRollouts() == [Fixture.web: after])
    }

    @Test("a save by a store that was never closed is visible to a second store on the same file")
    func unclosedWritesAreVisible() throws {
        let (rollout, events) = try Fixture.midRollout()
        let crashed = try SQLiteRolloutStore(path: path)
        try crashed.save(rollout, events: events, measurements: [Fixture.measurement(at: 31)])
        crashed.releaseLockAsAfterACrash()

        try withExtendedLifetime(crashed) {
            // The commit sits in the write-ahead log, not yet checkpointed into the main file.
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(try SQLiteConnection.raw(path).text("PRAGMA journal_mode") == "wal")

            let restarted = try SQLiteRolloutStore(path: path)
            #expect(try restarted.loadRollouts() == [Fixture.web: rollout])
            #expect(try restarted.events(for: Fixture.web, limit: nil) == events)
            #expect(try restarted.measurements(for: Fixture.web, limit: nil) == [Fixture.measurement(at: 31)])
        }
    }

    @Test("delete removes the rollout and its history and leaves other canaries alone")
    func deleteRemovesStateAndHistory() throws {
        let store = try SQLiteRolloutStore(path: path)
        let web = try Fixture.midRollout(Fixture.web)
        let api = try Fixture.rollout(Fixture.api)
        try store.save(web.rollout, events: web.events, measurements: [Fixture.measurement(Fixture.web, at: 31)])
        try store.save(api, events: [Fixture.event(at: 0, "api created")], measurements: [Fixture.measurement(Fixture.api, at: 7)])

        try store.delete(Fixture.web)

        #expect(try store.loadRollouts() == [Fixture.api: api])
        #expect(try store.events(for: Fixture.web, limit: nil) == [])
        #expect(try store.measurements(for: Fixture.web, limit: nil) == [])
        #expect(try store.events(for: Fixture.api, limit: nil).map(\.message) == ["api created"])
        #expect(try store.measurements(for: Fixture.api, limit: nil).count == 1)
        // Gone from the file, not only hidden from queries.
        let raw = try SQLiteConnection.raw(path)
        #expect(try raw.integer("SELECT count(*) FROM events WHERE name = 'web'") == 0)
        #expect(try raw.integer("SELECT count(*) FROM measurements WHERE name = 'web'") == 0)
    }

    @Test("readings keep NaN, infinity and missing values apart")
    func specialReadings() throws {
        let store = try SQLiteRolloutStore(path: path)
        let values: [Double?] = [.nan, .infinity, nil, 0]
        try store.save(try Fixture.rollout(), events: [],
                       measurements: values.enumerated().map { Fixture.measurement(at: $0.offset, canaryValue: $0.element) })

        let read = try store.measurements(for: Fixture.web, limit: nil).map(\.canaryValue)
        #expect(read.count == 4)
        #expect(read[0]?.isNaN == true)
        #expect(read[1] == .infinity)
        #expect(read[2] == nil)
        #expect(read[3] == 0)
    }

    @Test("a verdict, its reason, the statistical comparison and the window come back as the data they were")
    func verdictsAsData() throws {
        let store = try SQLiteRolloutStore(path: path)
        var measurement = Fixture.measurement(at: 5, verdict: .fail(reason: "request-success-rate: error rate canary 5% vs stable 0.4%: worse"))
        measurement.window = .milliseconds(42_500)
        measurement.comparison = Comparison(
            quantity: .slowerThan(milliseconds: 50, stableMilliseconds: 50 / 1.2), canaryRate: 0.81, stableRate: 0.72,
            difference: 0.02...0.15, tolerance: 0, confidence: 99.5, canaryRequests: 900, stableRequests: 8_100, decision: .worse)
        let passed = Fixture.measurement(at: 6)
        try store.save(try Fixture.rollout(), events: [], measurements: [measurement, passed])

        store.close()
        let reopened = try SQLiteRolloutStore(path: path)
        #expect(try reopened.measurements(for: Fixture.web, limit: nil) == [measurement, passed])
    }

    @Test("a measurement of another canary is refused before anything is written")
    func strayMeasurementIsRefused() throws {
        let store = try SQLiteRolloutStore(path: path)
        #expect(throws: StoreError.measurementOfOtherCanary(measurement: Fixture.api, rollout: Fixture.web)) {
            try store.save(try Fixture.rollout(), events: [Fixture.event(at: 0, "created")],
                           measurements: [Fixture.measurement(Fixture.api, at: 0)])
        }
        #expect(try store.loadRollouts().isEmpty)
        #expect(try store.events(for: Fixture.web, limit: nil).isEmpty)
    }

    @Test("a stored rollout that no longer decodes is reported by canary name, not dropped")
    func undecodableRowIsReported() throws {
        let store = try SQLiteRolloutStore(path: path)
        try store.save(try Fixture.rollout(Fixture.web), events: [], measurements: [])
        try store.save(try Fixture.rollout(Fixture.api), events: [], measurements: [])
        try SQLiteConnection.raw(path).execute(
            "UPDATE rollouts SET state = json_set(state, '$.status.canaryWeight', 140) WHERE name = 'web'")

        let error = #expect(throws: StoreError.self) { try store.loadRollouts() }
        guard case .undecodableRollouts(let file, let failures) = error else {
            Issue.record("expected undecodableRollouts, got \(String(describing: error))")
            return
        }
        #expect(file == path)
        #expect(Array(failures.keys) == [Fixture.web])
        #expect(failures[Fixture.web]?.contains("canaryWeight is 140, expected 0 to 100") == true)
        #expect(error?.description.hasPrefix("state file \(path) holds a rollout that cannot be read: shop/web: ") == true)
    }

    @Test("a closed store refuses further calls with a readable error")
    func closedStoreRefuses() throws {
        let store = try SQLiteRolloutStore(path: path)
        store.close()
        #expect(throws: StoreError.closed(path: path)) { try store.loadRollouts() }
        #expect(throws: StoreError.closed(path: path)) { try store.save(try Fixture.rollout(), events: [], measurements: []) }
    }

    @Test("one Serin per state file: a second store is refused naming the holder's pid and changes nothing; after close it opens")
    func secondStoreIsRefused() throws {
        let first = try SQLiteRolloutStore(path: path)
        try first.save(try Fixture.rollout(), events: [], measurements: [])
        #expect(throws: StoreError.inUse(path: path, pid: getpid())) { try SQLiteRolloutStore(path: path) }
        #expect(
            StoreError.inUse(path: path, pid: 42).description == "another serin (pid 42) is using \(path); stop it or pass --state PATH")
        #expect(try first.loadRollouts().count == 1, "the refused store wrote nothing")
        first.close()
        let second = try SQLiteRolloutStore(path: path)
        #expect(try second.loadRollouts().count == 1)
    }
}
