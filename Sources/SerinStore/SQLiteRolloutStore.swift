import SerinCore
import Synchronization

/// Where the embedded mode keeps rollouts across restarts: one SQLite file (`./.serin/state.sqlite`)
/// holding each Canary's rollout state as JSON, its events and its measurements.
///
/// The file is in WAL mode with `synchronous=NORMAL`: a commit survives the process being killed
/// (`kill -9`, a crash); only a power cut can lose the last few commits, and never corrupts the file.
/// `save` is one transaction, so after a crash the file holds the old state with the old history or the
/// new with the new.
///
/// Thread safety: the store owns exactly one SQLite connection inside a `Mutex`, and every call runs with
/// that lock held, so no two threads ever touch the connection (or a statement) at once; the class has only
/// immutable properties besides the mutex, which makes it `Sendable` without `@unchecked`. Calls block their
/// thread for the length of one small transaction (longer only while another process holds the file's
/// write lock, up to the 5 s busy timeout).
public final class SQLiteRolloutStore: RolloutStore {
    /// The state file, as given.
    public let path: String
    /// Nil once closed.
    private let database: Mutex<RolloutDatabase?>

    /// Opens the state file at `path`, creating it and its directory when missing, and brings its tables
    /// up to date. Throws, naming the file, when it is not a database, belongs to another program or was
    /// written by a newer Serin.
    /// - Parameter retention: how much of each Canary's history a save leaves behind (all, unless told).
    public init(path: String, retention: HistoryRetention = .unlimited) throws(StoreError) {
        self.path = path
        let database = try RolloutDatabase(path: path)
        database.retention = retention
        self.database = Mutex(database)
    }

    /// What a killed process leaves behind: its connection never closed, its lock let go by the kernel. Tests use it
    /// to open the file again in the same process, as the next Serin would after a `kill -9`.
    func releaseLockAsAfterACrash() {
        database.withLock { $0?.releaseLock() }
    }

    /// Closes the file; later calls throw `StoreError.closed`. Releasing the store closes it too.
    public func close() {
        database.withLock { database in
            database?.close()
            database = nil
        }
    }

    public func loadRollouts() throws(StoreError) -> [ResourceName: Rollout] {
        try withDatabase { (database) throws(StoreError) in try database.loadRollouts() }
    }

    public func save(_ rollout: Rollout, events: [RolloutEvent], measurements: [RecordedMeasurement]) throws(StoreError) {
        try withDatabase { (database) throws(StoreError) in
            try database.save(rollout, events: events, measurements: measurements)
        }
    }

    public func events(for canary: ResourceName, limit: Int? = nil) throws(StoreError) -> [RolloutEvent] {
        try withDatabase { (database) throws(StoreError) in try database.events(for: canary, limit: limit) }
    }

    public func measurements(for canary: ResourceName, limit: Int? = nil) throws(StoreError) -> [RecordedMeasurement] {
        try withDatabase { (database) throws(StoreError) in try database.measurements(for: canary, limit: limit) }
    }

    public func delete(_ canary: ResourceName) throws(StoreError) {
        try withDatabase { (database) throws(StoreError) in try database.delete(canary) }
    }

    private func withDatabase<Result: Sendable>(
        _ body: (RolloutDatabase) throws(StoreError) -> Result
    ) throws(StoreError) -> Result {
        try database.withLock { (database) throws(StoreError) -> Result in
            guard let database else { throw .closed(path: path) }
            return try body(database)
        }
    }
}
