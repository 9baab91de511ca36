import Foundation
import SerinCore
@testable import SerinStore
import Testing

@Suite("Opening a SQLite state file")
struct SQLiteRolloutStoreOpeningTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    @Test("missing parent directories are created and the file gets the current schema version")
    func createsDirectoriesAndSchema() throws {
        let path = directory.file("a/b/.serin/state.sqlite")
        let store = try SQLiteRolloutStore(path: path)
        store.close()

        #expect(FileManager.default.fileExists(atPath: path))
        let raw = try SQLiteConnection.raw(path)
        #expect(try raw.integer("PRAGMA user_version") == 4)
        #expect(try raw.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('rollouts', 'events', 'measurements')") == 3)
    }

    @Test("a closed store's lock is free at once, even while a copy of its descriptor lives on, as in a child being spawned")
    func lockFreedDespiteDescriptorCopy() throws {
        let path = directory.file("state.sqlite")
        let lock = try StateFileLock(statePath: path)
        // What a child forked by posix_spawn on another thread holds until its exec closes it.
        let copy = dup(lock.descriptor)
        defer { close(copy) }
        lock.release()
        #expect(throws: Never.self) { try StateFileLock(statePath: path).release() }
    }

    @Test("reopening a state file keeps its data and does not migrate again")
    func reopeningKeepsData() throws {
        let path = directory.file("state.sqlite")
        try SQLiteRolloutStore(path: path).save(try Fixture.rollout(), events: [Fixture.event(at: 0, "created")], measurements: [])
        for _ in 0..<2 {
            let store = try SQLiteRolloutStore(path: path)
            #expect(try store.loadRollouts().keys.sorted() == [Fixture.web])
            #expect(try store.events(for: Fixture.web, limit: nil).count == 1)
        }
    }

    @Test("a file that is not a database is a readable error naming the file")
    func notADatabase() throws {
        let path = directory.file("state.sqlite")
        try Data(String(repeating: "these are not the rollouts you are looking for\n", count: 40).utf8)
            .write(to: URL(fileURLWithPath: path))

        let error = #expect(throws: StoreError.cannotOpen(path: path, reason: "file is not a database")) {
            try SQLiteRolloutStore(path: path)
        }
        #expect(error?.description == "cannot open state file \(path): file is not a database (move it away or pass --state PATH)")
    }

    @Test("a directory that cannot be created is a readable error naming what is in the way")
    func directoryCannotBeCreated() throws {
        let blocker = directory.file("blocker")
        try Data("a file, not a directory".utf8).write(to: URL(fileURLWithPath: blocker))
        let path = blocker + "/.serin/state.sqlite"

        let error = #expect(throws: StoreError.self) { try SQLiteRolloutStore(path: path) }
        #expect(error == .cannotCreateDirectory(
            directory: blocker + "/.serin", path: path, reason: "\(blocker) is a file, not a directory"))
        #expect(error?.description == "cannot create directory \(blocker)/.serin for state file \(path): "
            + "\(blocker) is a file, not a directory (pass --state PATH)")
    }

    @Test("a directory the system will not create (under /proc) says why in the system's words, not Foundation's")
    func directoryRefusedBySystem() throws {
        let path = "/proc/serin-\(UUID().uuidString)/state.sqlite"
        let error = #expect(throws: StoreError.self) { try SQLiteRolloutStore(path: path) }
        let description = error?.description ?? ""
        #expect(description.hasPrefix("cannot create directory /proc/serin-"), "\(description)")
        #expect(!description.contains("NSCocoaErrorDomain") && !description.contains("could not be completed"), "\(description)")
    }

    @Test("another program's SQLite database is refused, not written into")
    func foreignDatabase() throws {
        let path = directory.file("state.sqlite")
        try SQLiteConnection.raw(path).execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")

        let error = #expect(throws: StoreError.notAStateFile(path: path, tables: ["invoices"])) {
            try SQLiteRolloutStore(path: path)
        }
        #expect(error?.description.contains("it is a SQLite database but not Serin's (it has tables invoices)") == true)
        #expect(try SQLiteConnection.raw(path).integer("SELECT count(*) FROM sqlite_schema WHERE name = 'rollouts'") == 0)
    }

    /// A state file as the Serin of schema `version` left it, holding the rollout `default/web` to add rows of.
    func stateFile(atVersion version: Int) throws -> (path: String, raw: SQLiteConnection) {
        let path = directory.file("state.sqlite")
        let raw = try SQLiteConnection.raw(path)
        for migration in RolloutDatabase.migrations.prefix(version) { try raw.executeScript(migration) }
        try raw.execute("PRAGMA user_version = \(version)")
        try raw.execute("INSERT INTO rollouts (namespace, name, state, updated_at) VALUES ('default', 'web', '{}', 0)")
        return (path, raw)
    }

    @Test("a version 1 file's verdicts, written as \"fail: REASON\", read back as data after the upgrade to version 2")
    func upgradesVerdictsToData() async throws {
        let (path, raw) = try stateFile(atVersion: 1)
        for (index, verdict) in ["pass", "fail: request-success-rate 96.18% < 99%", "inconclusive: 3 requests < 5 minimum"].enumerated() {
            try raw.execute("""
                INSERT INTO measurements (namespace, name, instant_ns, metric, canary_value, stable_value, canary_requests,
                    stable_requests, canary_weight, verdict) VALUES ('default', 'web', ?, 'request-success-rate', 99, 99, 10, 90, 10, ?)
                """, [.integer(Int64(index)), .text(verdict)])
        }

        let store = try SQLiteRolloutStore(path: path)
        defer { store.close() }
        let verdicts = try store.measurements(for: ResourceName(namespace: "default", name: "web"), limit: nil).map(\.verdict)
        #expect(verdicts == [.pass, .fail(reason: "request-success-rate 96.18% < 99%"), .inconclusive(reason: "3 requests < 5 minimum")])
        #expect(try SQLiteConnection.raw(path).integer("PRAGMA user_version") == 4)
    }

    @Test("a version 2 file's custom-metric rows, written with 0 requests for a value that counts none, read back with no count after the upgrade to version 3; built-in rows keep theirs, 0 included")
    func upgradesCustomMetricCountsToUnknown() async throws {
        let (path, raw) = try stateFile(atVersion: 2)
        for (index, (metric, requests)) in [("error-budget", 0), ("request-success-rate", 0), ("request-duration", 40)].enumerated() {
            try raw.execute("""
                INSERT INTO measurements (namespace, name, instant_ns, metric, canary_value, stable_value, canary_requests,
                    stable_requests, canary_weight, verdict) VALUES ('default', 'web', ?, ?, 1, 1, ?, ?, 10, 'pass')
                """, [.integer(Int64(index)), .text(metric), .integer(Int64(requests)), .integer(Int64(requests))])
        }

        let store = try SQLiteRolloutStore(path: path)
        defer { store.close() }
        let read = try store.measurements(for: ResourceName(namespace: "default", name: "web"), limit: nil)
        #expect(read.map(\.metric) == ["error-budget", "request-success-rate", "request-duration"])
        #expect(read.map(\.canaryRequests) == [nil, 0, 40])
        #expect(read.map(\.stableRequests) == [nil, 0, 40])
        #expect(try SQLiteConnection.raw(path).integer("PRAGMA user_version") == 4)
    }

    @Test("a version 3 file's measurements read back as taken on live traffic after the upgrade to version 4, which marks those taken on mirrored copies")
    func upgradesMeasurementsToMirrorMark() async throws {
        let (path, raw) = try stateFile(atVersion: 3)
        try raw.execute("""
            INSERT INTO measurements (namespace, name, instant_ns, metric, canary_value, stable_value, canary_requests,
                stable_requests, canary_weight, verdict) VALUES ('default', 'web', 1, 'request-success-rate', 99, 99, 10, 90, 0, 'pass')
            """)

        let store = try SQLiteRolloutStore(path: path)
        defer { store.close() }
        let web = ResourceName(namespace: "default", name: "web")
        #expect(try store.measurements(for: web, limit: nil).map(\.mirrored) == [nil])
        #expect(try SQLiteConnection.raw(path).integer("PRAGMA user_version") == 4)
    }

    @Test("a schema version newer than this code knows is refused with what to do")
    func newerSchema() throws {
        let path = directory.file("state.sqlite")
        try SQLiteRolloutStore(path: path).save(try Fixture.rollout(), events: [], measurements: [])
        try SQLiteConnection.raw(path).execute("PRAGMA user_version = 7")

        let error = #expect(throws: StoreError.newerSchema(path: path, found: 7, known: 4)) {
            try SQLiteRolloutStore(path: path)
        }
        #expect(error?.description == "cannot open state file \(path): a newer Serin wrote it (schema version 7, "
            + "this Serin knows up to 4); upgrade Serin or pass --state PATH")
    }
}
