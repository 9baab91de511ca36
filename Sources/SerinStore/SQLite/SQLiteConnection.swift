import CSQLite

/// One open SQLite database file: runs SQL and prepares statements, and closes the file when released.
///
/// Not thread-safe on purpose: `SQLiteRolloutStore` owns exactly one connection behind a mutex, so no two
/// threads ever use it at once.
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?

    /// Opens `path`, creating it when missing. SQLite reads the file lazily, so a file that is not a
    /// database is only noticed by the first statement.
    init(path: String) throws(SQLiteFailure) {
        self.path = path
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard code == SQLITE_OK, handle != nil else {
            let failure = SQLiteFailure(code: code, connection: handle)
            // sqlite3_open_v2 allocates a handle even when it fails; it must still be closed.
            sqlite3_close_v2(handle)
            throw failure
        }
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Whether SQLite opened the file for reading only: it does so, without failing, when the file is write-protected
    /// for this process, and only the first write then fails.
    var isReadOnly: Bool {
        guard let handle else { return false }
        return sqlite3_db_readonly(handle, "main") == 1
    }

    /// Whether no transaction is open (SQLite's autocommit mode).
    var isAutocommit: Bool {
        guard let handle else { return true }
        return sqlite3_get_autocommit(handle) != 0
    }

    /// Closes the file. `close_v2` waits for any statement still alive, so closing early is never a crash.
    func close() {
        guard let handle else { return }
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    func prepare(_ sql: String) throws(SQLiteFailure) -> SQLiteStatement {
        guard let handle else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the state file is closed") }
        return try SQLiteStatement(sql: sql, connection: handle)
    }

    /// Runs one statement that returns no rows (or whose rows do not matter, like `PRAGMA journal_mode`).
    func execute(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteFailure) {
        try prepare(sql).run(values)
    }

    /// Runs several `;`-separated statements that take no parameters, like a migration.
    func executeScript(_ sql: String) throws(SQLiteFailure) {
        guard let handle else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the state file is closed") }
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        defer { sqlite3_free(errorMessage) }
        guard code == SQLITE_OK else {
            throw SQLiteFailure(code: code, message: errorMessage.map { String(cString: $0) } ?? "SQLite error \(code)")
        }
    }

    /// The first column of the first row, as an integer (for `PRAGMA user_version`, `count(*)`).
    func integer(_ sql: String) throws(SQLiteFailure) -> Int64 {
        let statement = try prepare(sql)
        guard try statement.step() else { return 0 }
        return statement.integer(0)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back when anything in it throws.
    ///
    /// IMMEDIATE takes the write lock up front, so a second writer waits on `busy_timeout` at BEGIN
    /// instead of failing halfway through with a lock it cannot upgrade.
    func transaction<Result>(_ body: () throws(SQLiteFailure) -> Result) throws(SQLiteFailure) -> Result {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // Some failures (SQLITE_FULL, SQLITE_IOERR...) roll back by themselves; a second ROLLBACK would
            // only fail with "no transaction is active" and hide the real error.
            guard !isAutocommit else { throw error }
            do {
                try execute("ROLLBACK")
            } catch let rollback {
                throw SQLiteFailure(code: error.code, message: "\(error.message); rolling back also failed: \(rollback.message)")
            }
            throw error
        }
    }
}
