import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One Serin per state file: an exclusive `flock` on `PATH.lock`, held while the store is open, with the holder's
/// pid written in it so a second process can say who holds it.
///
/// Two `serin up` on one file would each drive the same rollouts with their own gateway and write over each
/// other. SQLite's own locks last one transaction, so they cannot keep a second process out. The kernel lets go of
/// a `flock` when its process ends however it ends, so after a `kill -9` the next start takes the file at once.
final class StateFileLock {
    let path: String
    private(set) var descriptor: Int32

    /// Takes the lock at once or throws `StoreError.inUse`, naming the holder.
    init(statePath: String) throws(StoreError) {
        path = statePath + ".lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .cannotOpen(path: statePath, reason: "cannot open its lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.pid(in: descriptor)
            close(descriptor)
            throw .inUse(path: statePath, pid: holder)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// Lets go of the lock; the file stays, empty of meaning until the next holder writes its pid.
    ///
    /// Unlocked before it is closed: a `flock` belongs to the open file, which a child being spawned on another thread
    /// holds a copy of until its exec closes it, so a close alone can leave the lock held for that while.
    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    private static func pid(in descriptor: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: bytes[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
