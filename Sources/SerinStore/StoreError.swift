import SerinCore

/// Why the state file could not be opened, read or written, worded for the person who runs Serin:
/// which file, what went wrong, and what to do about it.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The state file's directory does not exist and could not be made.
    case cannotCreateDirectory(directory: String, path: String, reason: String)
    /// SQLite could not open the file, or it is not a database at all.
    case cannotOpen(path: String, reason: String)
    /// The file is a SQLite database, but some other program's.
    case notAStateFile(path: String, tables: [String])
    /// A newer Serin wrote the file; this one does not know its layout.
    case newerSchema(path: String, found: Int, known: Int)
    /// A statement failed while doing `operation` (`save rollout shop/web`).
    case failed(path: String, operation: String, reason: String)
    /// Stored rollouts that no longer decode, by Canary, with what is wrong with each.
    case undecodableRollouts(path: String, failures: [ResourceName: String])
    /// A measurement was handed to `save` along with another Canary's rollout.
    case measurementOfOtherCanary(measurement: ResourceName, rollout: ResourceName)
    /// The rollout value could not be turned into JSON.
    case cannotEncode(canary: ResourceName, reason: String)
    /// An instant too far from the epoch to count in 64-bit nanoseconds.
    case instantOutOfRange(canary: ResourceName, instant: RolloutInstant)
    /// The store was used after `close()`.
    case closed(path: String)
    /// Another process holds the state file (its pid, when it wrote one).
    case inUse(path: String, pid: Int32?)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let directory, let path, let reason):
            return "cannot create directory \(directory) for state file \(path): \(reason) (pass --state PATH)"
        case .cannotOpen(let path, let reason):
            return "cannot open state file \(path): \(reason) (move it away or pass --state PATH)"
        case .notAStateFile(let path, let tables):
            return "cannot open state file \(path): it is a SQLite database but not Serin's "
                + "(it has tables \(tables.joined(separator: ", "))); move it away or pass --state PATH"
        case .newerSchema(let path, let found, let known):
            return "cannot open state file \(path): a newer Serin wrote it (schema version \(found), "
                + "this Serin knows up to \(known)); upgrade Serin or pass --state PATH"
        case .failed(let path, let operation, let reason):
            return "cannot \(operation) in state file \(path): \(reason)"
        case .undecodableRollouts(let path, let failures):
            let each = failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            return "state file \(path) holds \(failures.count == 1 ? "a rollout" : "\(failures.count) rollouts") "
                + "that cannot be read: \(each.joined(separator: "; ")) "
                + "(delete the Canary's rollout, or move the state file away to start over)"
        case .measurementOfOtherCanary(let measurement, let rollout):
            return "cannot save rollout \(rollout): it was given a measurement of \(measurement)"
        case .cannotEncode(let canary, let reason):
            return "cannot save rollout \(canary): its state does not encode as JSON: \(reason)"
        case .instantOutOfRange(let canary, let instant):
            return "cannot save rollout \(canary): instant \(instant) does not fit in 64-bit nanoseconds since the epoch"
        case .closed(let path):
            return "state file \(path) is already closed"
        case .inUse(let path, let pid):
            return "another serin\(pid.map { " (pid \($0))" } ?? "") is using \(path); stop it or pass --state PATH"
        }
    }
}
