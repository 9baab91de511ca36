import CSQLite

/// What SQLite said when a call failed, kept apart from `StoreError` so the store can add which state file
/// and which operation it was.
struct SQLiteFailure: Error, CustomStringConvertible {
    /// The primary result code (`SQLITE_NOTADB`, `SQLITE_BUSY`...).
    var code: Int32
    /// `sqlite3_errmsg`, e.g. `file is not a database`.
    var message: String

    /// The connection's latest error, or the generic text for `code` when there is no connection to ask.
    init(code: Int32, connection: OpaquePointer?) {
        self.code = code & 0xFF
        if let connection, let text = sqlite3_errmsg(connection) {
            self.message = String(cString: text)
        } else if let text = sqlite3_errstr(code) {
            self.message = String(cString: text)
        } else {
            self.message = "SQLite error \(code)"
        }
    }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
