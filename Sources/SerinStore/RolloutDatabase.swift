import CSQLite
import Foundation
import SerinCore
import SerinSystem

/// The SQL behind `SQLiteRolloutStore`: one connection to one state file and the statements that read and
/// write it. Not thread-safe; the store keeps it behind a mutex.
///
/// Why SQLite's C API and not GRDB (decided 2026-12, measured then): the store is one connection behind one
/// mutex, one table of JSON rollout blobs, two append-only history tables, about a dozen statements and a `user_version`
/// migration. GRDB's strengths — pools and WAL readers, observation, record types, a migrator — are ones this
/// store does not use: one process writes, its few readers (the admin API's history and events) share the
/// connection for one short query each, a rollout is stored whole as JSON, and the schema has one migration. What it would cost: a 167-file dependency (about 35 s of CPU to build in debug here,
/// on every clean CI run) and a second error vocabulary between SQLite's codes and `StoreError`, whose typed
/// throws name the state file and the Canary. Revisit when history reads grow long enough to hold up saves (then
/// WAL readers on a pool pay off) or the schema needs a second migration.
final class RolloutDatabase {
    let path: String
    let connection: SQLiteConnection
    /// Held from open to close: no second process drives these rollouts.
    private let lock: StateFileLock
    /// The opened file's device and inode: a save first checks that `path` still names it.
    private var identity: (device: UInt64, inode: UInt64)?
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Stable bytes for the same state make the file diffable and easy to inspect with `sqlite3`.
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    private let decoder = JSONDecoder()

    /// Creates the parent directory, opens (or creates) the file and brings its schema up to date.
    /// How much history each save leaves behind.
    var retention = HistoryRetention.unlimited

    init(path: String) throws(StoreError) {
        self.path = path
        try Self.createParentDirectory(of: path)
        // Before SQLite opens the file: a second process must not so much as bring its schema up to date.
        lock = try StateFileLock(statePath: path)
        do {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw .cannotOpen(path: path, reason: error.message)
        }
        if connection.isReadOnly {
            // Refused here rather than found by the first save: rollouts would go on and be lost at the next restart.
            connection.close()
            lock.release()
            throw .cannotOpen(
                path: path,
                reason: "it is read-only to this process (user id \(getuid())): no rollout could be saved, and a restart would start "
                    + "each again; make it writable"
            )
        }
        try prepareFile()
        identity = Self.identity(of: path)
    }

    /// The device and inode `path` names now; nil when it names nothing.
    private static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Throws when `path` no longer names the file this connection writes (deleted, or another put in its place): a
    /// save would go on into a file no restart reads, and every rollout would start again after one.
    private func checkStillOpenAtPath(operation: String) throws(StoreError) {
        guard let opened = identity else { return }
        let now = Self.identity(of: path)
        guard now?.device != opened.device || now?.inode != opened.inode else { return }
        let what = now == nil ? "was deleted" : "was replaced by another file"
        throw .failed(
            path: path, operation: operation,
            reason: "the file \(what) while Serin runs: what is saved now would not be read at the next start, which would start "
                + "every rollout in it again; restart Serin when no rollout is in flight, and it starts a new state file"
        )
    }

    func close() {
        connection.close()
        lock.release()
    }

    func releaseLock() {
        lock.release()
    }

    // MARK: - Rollouts

    func save(_ rollout: Rollout, events: [RolloutEvent], measurements: [RecordedMeasurement]) throws(StoreError) {
        let canary = rollout.spec.name
        try checkStillOpenAtPath(operation: "save rollout \(canary)")
        if let stray = measurements.first(where: { $0.canary != canary }) {
            throw .measurementOfOtherCanary(measurement: stray.canary, rollout: canary)
        }
        let state: String
        do {
            state = String(decoding: try encoder.encode(rollout), as: UTF8.self)
        } catch {
            throw .cannotEncode(canary: canary, reason: String(describing: error))
        }
        // Everything is converted before BEGIN, so the transaction only fails for reasons SQLite gives.
        let key: [SQLiteValue] = [.text(canary.namespace), .text(canary.name)]
        let eventRows = try events.map { (event) throws(StoreError) -> [SQLiteValue] in
            key + [.integer(try nanoseconds(event.instant, of: canary)), .text(event.severity.rawValue), .text(event.message)]
        }
        let measurementRows = try measurements.map { (measurement) throws(StoreError) -> [SQLiteValue] in
            var comparison = SQLiteValue.null
            if let compared = measurement.comparison {
                do {
                    comparison = .text(String(decoding: try encoder.encode(compared), as: UTF8.self))
                } catch {
                    throw .cannotEncode(canary: canary, reason: String(describing: error))
                }
            }
            return key + [
                .integer(try nanoseconds(measurement.instant, of: canary)), .text(measurement.metric),
                Self.reading(measurement.canaryValue), Self.reading(measurement.stableValue),
                measurement.canaryRequests.map { .integer(Int64($0)) } ?? .null, measurement.stableRequests.map { .integer(Int64($0)) } ?? .null,
                .integer(Int64(measurement.canaryWeight)), .text(measurement.verdict.outcome.rawValue),
                measurement.verdict.reason.map { .text($0) } ?? .null, comparison,
                measurement.window.map { .integer(Int64($0 / .milliseconds(1))) } ?? .null,
                measurement.mirrored == true ? .integer(1) : .null,
            ]
        }
        let updatedAt = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        // Ages count back from the newest entry of this save, on the rollout's own clock.
        let newest = (events.map(\.instant) + measurements.map(\.instant)).max()
        let keptFrom = retention.cutoff(for: rollout, newest: newest).flatMap(\.nanoseconds)
        do {
            try connection.transaction { () throws(SQLiteFailure) in
                // An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the delete
                // would cascade to the rollout's whole history.
                try connection.execute(
                    """
                    INSERT INTO rollouts (namespace, name, state, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (namespace, name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                    """,
                    key + [.text(state), .integer(updatedAt)])
                try insert(eventRows, sql: """
                    INSERT INTO events (namespace, name, instant_ns, severity, message) VALUES (?, ?, ?, ?, ?)
                    """)
                try insert(measurementRows, sql: """
                    INSERT INTO measurements (namespace, name, instant_ns, metric, canary_value, stable_value,
                        canary_requests, stable_requests, canary_weight, verdict, reason, comparison, window_ms, canary_mirrored)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                // Retention in the same transaction: the file never holds more than it keeps plus one save.
                if let cutoff = keptFrom {
                    for table in ["events", "measurements"] {
                        try connection.execute("DELETE FROM \(table) WHERE namespace = ? AND name = ? AND instant_ns < ?", key + [.integer(cutoff)])
                    }
                }
            }
        } catch {
            throw .failed(path: path, operation: "save rollout \(canary)", reason: error.message)
        }
    }

    func loadRollouts() throws(StoreError) -> [ResourceName: Rollout] {
        var rollouts: [ResourceName: Rollout] = [:]
        var failures: [ResourceName: String] = [:]
        do {
            let statement = try connection.prepare("SELECT namespace, name, state FROM rollouts")
            while try statement.step() {
                let canary = ResourceName(namespace: statement.text(0), name: statement.text(1))
                do {
                    let rollout = try decoder.decode(Rollout.self, from: Data(statement.text(2).utf8))
                    if rollout.spec.name == canary {
                        rollouts[canary] = rollout
                    } else {
                        failures[canary] = "its state belongs to \(rollout.spec.name)"
                    }
                } catch {
                    failures[canary] = error.readableDecodingFailure
                }
            }
        } catch {
            throw .failed(path: path, operation: "load rollouts", reason: error.message)
        }
        guard failures.isEmpty else { throw .undecodableRollouts(path: path, failures: failures) }
        return rollouts
    }

    func delete(_ canary: ResourceName) throws(StoreError) {
        do {
            // Its events and measurements go with it: ON DELETE CASCADE.
            try connection.execute("DELETE FROM rollouts WHERE namespace = ? AND name = ?",
                                   [.text(canary.namespace), .text(canary.name)])
        } catch {
            throw .failed(path: path, operation: "delete rollout \(canary)", reason: error.message)
        }
    }

    // MARK: - History

    func events(for canary: ResourceName, limit: Int?) throws(StoreError) -> [RolloutEvent] {
        var events: [RolloutEvent] = []
        do throws(SQLiteFailure) {
            let statement = try newestFirst(
                "SELECT id, instant_ns, severity, message FROM events", of: canary, limit: limit)
            while try statement.step() {
                let severityName = statement.text(2)
                guard let severity = RolloutEvent.Severity(rawValue: severityName) else {
                    throw SQLiteFailure(code: SQLITE_CORRUPT, message:
                        "event \(statement.integer(0)) has severity '\(severityName)', expected Normal or Warning")
                }
                events.append(RolloutEvent(instant: RolloutInstant(nanoseconds: statement.integer(1)),
                                           severity: severity, message: statement.text(3)))
            }
        } catch {
            throw .failed(path: path, operation: "read the events of \(canary)", reason: error.message)
        }
        return events.reversed()
    }

    func measurements(for canary: ResourceName, limit: Int?) throws(StoreError) -> [RecordedMeasurement] {
        var measurements: [RecordedMeasurement] = []
        do {
            let statement = try newestFirst(
                """
                SELECT instant_ns, metric, canary_value, stable_value, canary_requests, stable_requests,
                    canary_weight, verdict, reason, comparison, window_ms, canary_mirrored
                FROM measurements
                """, of: canary, limit: limit)
            while try statement.step() {
                measurements.append(RecordedMeasurement(
                    canary: canary, instant: RolloutInstant(nanoseconds: statement.integer(0)),
                    metric: statement.text(1), canaryValue: Self.reading(statement, 2), stableValue: Self.reading(statement, 3),
                    canaryRequests: statement.isNull(4) ? nil : Int(statement.integer(4)),
                    stableRequests: statement.isNull(5) ? nil : Int(statement.integer(5)),
                    canaryWeight: Int(statement.integer(6)),
                    window: statement.isNull(10) ? nil : .milliseconds(statement.integer(10)),
                    verdict: Verdict(outcome: Verdict.Outcome(rawValue: statement.text(7)) ?? .inconclusive,
                                     reason: statement.isNull(8) ? nil : statement.text(8)),
                    comparison: statement.isNull(9) ? nil : try? decoder.decode(Comparison.self, from: Data(statement.text(9).utf8)),
                    mirrored: !statement.isNull(11) && statement.integer(11) != 0))
            }
        } catch {
            throw .failed(path: path, operation: "read the measurements of \(canary)", reason: error.message)
        }
        return measurements.reversed()
    }

    // MARK: - Helpers

    /// `select` restricted to the Canary, newest first, at most `limit` rows (SQLite reads -1 as no limit).
    /// Callers reverse the rows to return them oldest first.
    private func newestFirst(_ select: String, of canary: ResourceName, limit: Int?) throws(SQLiteFailure) -> SQLiteStatement {
        let statement = try connection.prepare("\(select) WHERE namespace = ? AND name = ? ORDER BY id DESC LIMIT ?")
        try statement.bind([.text(canary.namespace), .text(canary.name), .integer(Int64(limit.map { max($0, 0) } ?? -1))])
        return statement
    }

    private func insert(_ rows: [[SQLiteValue]], sql: String) throws(SQLiteFailure) {
        guard !rows.isEmpty else { return }
        let statement = try connection.prepare(sql)
        for row in rows {
            try statement.run(row)
            statement.reset()
        }
    }

    private func nanoseconds(_ instant: RolloutInstant, of canary: ResourceName) throws(StoreError) -> Int64 {
        guard let nanoseconds = instant.nanoseconds else { throw .instantOutOfRange(canary: canary, instant: instant) }
        return nanoseconds
    }

    /// SQLite stores a NaN REAL as NULL, which would turn "the query returned NaN" into "no value";
    /// NaN is kept as the text `NaN` instead.
    private static func reading(_ value: Double?) -> SQLiteValue {
        guard let value else { return .null }
        return value.isNaN ? .text("NaN") : .real(value)
    }

    private static func reading(_ statement: SQLiteStatement, _ column: Int32) -> Double? {
        if statement.isNull(column) { return nil }
        if statement.isText(column) { return Double(statement.text(column)) ?? .nan }
        return statement.real(column)
    }

    private static func createParentDirectory(of path: String) throws(StoreError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        guard !directory.isEmpty else { return }
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(directory: directory, path: path, reason: Self.whyNotCreated(directory, error))
        }
    }

    /// Foundation's message for a file in the way is vague; name the file instead.
    private static func whyNotCreated(_ directory: String, _ error: any Error) -> String {
        var ancestor = directory
        var isDirectory: ObjCBool = false
        while !ancestor.isEmpty {
            if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
                return isDirectory.boolValue ? FileErrorText.reason(error) : "\(ancestor) is a file, not a directory"
            }
            guard let slash = ancestor.lastIndex(of: "/") else { break }
            ancestor = String(ancestor[..<slash])
        }
        return FileErrorText.reason(error)
    }
}
