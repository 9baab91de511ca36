extension RolloutDatabase {
    /// The newest layout this code writes; `PRAGMA user_version` holds the file's.
    static let schemaVersion = 4

    /// Each migration brings the file from version `index` to `index + 1`. Add new ones at the end;
    /// never edit a released one, since files out there were made by it.
    static let migrations: [String] = [
        """
        CREATE TABLE rollouts (
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (namespace, name)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            instant_ns INTEGER NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            FOREIGN KEY (namespace, name) REFERENCES rollouts (namespace, name) ON DELETE CASCADE
        );
        CREATE INDEX events_by_canary ON events (namespace, name, id);
        CREATE TABLE measurements (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            instant_ns INTEGER NOT NULL,
            metric TEXT NOT NULL,
            canary_value REAL,
            stable_value REAL,
            canary_requests INTEGER NOT NULL,
            stable_requests INTEGER NOT NULL,
            canary_weight INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            FOREIGN KEY (namespace, name) REFERENCES rollouts (namespace, name) ON DELETE CASCADE
        );
        CREATE INDEX measurements_by_canary ON measurements (namespace, name, id);
        """,
        // 2: verdicts as data. `verdict` keeps only pass, fail or inconclusive; the reason moves to its own column
        // (split off rows written as "fail: REASON"), a statistical judge's comparison is kept as JSON, and the span
        // the numbers cover is kept (unknown in older rows).
        """
        ALTER TABLE measurements ADD COLUMN reason TEXT;
        ALTER TABLE measurements ADD COLUMN comparison TEXT;
        ALTER TABLE measurements ADD COLUMN window_ms INTEGER;
        UPDATE measurements SET verdict = substr(verdict, 1, instr(verdict, ': ') - 1), reason = substr(verdict, instr(verdict, ': ') + 2)
            WHERE instr(verdict, ': ') > 0;
        """,
        // 3: request counts may be unknown (NULL): a MetricTemplate's value counts no requests. SQLite drops NOT NULL
        // only by copying the table. Rows of custom metrics written before, with 0 for both, say unknown too.
        """
        CREATE TABLE measurements_v3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            instant_ns INTEGER NOT NULL,
            metric TEXT NOT NULL,
            canary_value REAL,
            stable_value REAL,
            canary_requests INTEGER,
            stable_requests INTEGER,
            canary_weight INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            reason TEXT,
            comparison TEXT,
            window_ms INTEGER,
            FOREIGN KEY (namespace, name) REFERENCES rollouts (namespace, name) ON DELETE CASCADE
        );
        INSERT INTO measurements_v3 (id, namespace, name, instant_ns, metric, canary_value, stable_value, canary_requests,
            stable_requests, canary_weight, verdict, reason, comparison, window_ms)
            SELECT id, namespace, name, instant_ns, metric, canary_value, stable_value, canary_requests, stable_requests,
                canary_weight, verdict, reason, comparison, window_ms FROM measurements;
        DROP TABLE measurements;
        ALTER TABLE measurements_v3 RENAME TO measurements;
        CREATE INDEX measurements_by_canary ON measurements (namespace, name, id);
        UPDATE measurements SET canary_requests = NULL, stable_requests = NULL
            WHERE metric NOT IN ('request-success-rate', 'request-duration') AND canary_requests = 0 AND stable_requests = 0;
        """,
        // 4: whether the canary's numbers are of mirrored copies of requests (1), not live traffic (NULL, as every
        // older row: mirroring measured before was not told apart).
        """
        ALTER TABLE measurements ADD COLUMN canary_mirrored INTEGER;
        """,
    ]

    /// Sets the connection up and brings the file to `schemaVersion`, or says why it cannot.
    func prepareFile() throws(StoreError) {
        do {
            // WAL: readers never block the writer, and a commit is one append to the log.
            // NORMAL syncs the log at checkpoints, not every commit: a killed process loses nothing,
            // only a power cut can lose the last commits, and the file is never corrupted either way.
            try connection.execute("PRAGMA journal_mode = WAL")
            try connection.execute("PRAGMA synchronous = NORMAL")
            // Another serin process on the same file waits for the lock instead of failing at once.
            try connection.execute("PRAGMA busy_timeout = 5000")
            // Deleting a rollout cascades to its events and measurements.
            try connection.execute("PRAGMA foreign_keys = ON")
        } catch {
            throw .cannotOpen(path: path, reason: error.message)
        }
        let found = try readSchemaVersion()
        if found > Self.schemaVersion {
            throw .newerSchema(path: path, found: found, known: Self.schemaVersion)
        }
        guard found < Self.schemaVersion else { return }
        let foreignTables: [String]
        do {
            foreignTables = try connection.transaction { () throws(SQLiteFailure) -> [String] in
                // Read again under the write lock: another process may have migrated in the meantime.
                let current = Int(try connection.integer("PRAGMA user_version"))
                if current == 0 {
                    let tables = try tableNames()
                    guard tables.isEmpty else { return tables }
                }
                for version in current..<max(current, Self.schemaVersion) {
                    try connection.executeScript(Self.migrations[version])
                }
                // PRAGMA takes no parameters; the value is our own constant.
                try connection.execute("PRAGMA user_version = \(Self.schemaVersion)")
                return []
            }
        } catch {
            throw .failed(path: path, operation: "create the tables (schema version \(Self.schemaVersion))",
                          reason: error.message)
        }
        if !foreignTables.isEmpty {
            throw .notAStateFile(path: path, tables: foreignTables)
        }
    }

    private func readSchemaVersion() throws(StoreError) -> Int {
        do {
            return Int(try connection.integer("PRAGMA user_version"))
        } catch {
            throw .cannotOpen(path: path, reason: error.message)
        }
    }

    private func tableNames() throws(SQLiteFailure) -> [String] {
        let statement = try connection.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        var names: [String] = []
        while try statement.step() {
            names.append(statement.text(0))
        }
        return names
    }
}
