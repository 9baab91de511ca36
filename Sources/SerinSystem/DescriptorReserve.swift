#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File descriptors a listener leaves to the rest of the process: it stops accepting while fewer are free (see
/// `AcceptPause`), as it does when the kernel fails an accept for want of one.
///
/// A process that runs all the way out cannot count on anything that needs a descriptor: the admin endpoint cannot
/// accept the connection that would show why, and the Swift runtime ends the process. On Linux, libdispatch's
/// thread-pool monitor opens `/proc/TID/stat` of its threads once a second while work waits for a thread, and when that
/// open fails it stops the process with SIGILL ("workq: registered worker exited prematurely"), on a busy machine
/// within seconds of the last descriptor being taken.
public struct DescriptorReserve: Sendable {
    /// How many descriptors are left free.
    public let count: Int
    private let limit: Int32

    /// `wanted` descriptors kept free under the open-file limit `openFiles`, or an eighth of that limit where it is
    /// lower (a process under a limit of 64 still takes connections).
    public init(keeping wanted: Int, under openFiles: Int) {
        limit = Int32(clamping: openFiles)
        count = max(1, min(wanted, openFiles / 8))
        _ = Self.anchor
    }

    /// Whether at least `count` descriptors are free.
    public var isAvailable: Bool {
        // Allocated lowest first, the top `count` under the limit are free in a process that has not come near it:
        // one poll (which says POLLNVAL of a descriptor not open) tells.
        let count = self.count
        let limit = self.limit
        let topFree = withUnsafeTemporaryAllocation(of: pollfd.self, capacity: count) { window -> Bool in
            for index in 0..<count { window[index] = pollfd(fd: limit - Int32(count - index), events: 0, revents: 0) }
            guard poll(window.baseAddress, nfds_t(count), 0) >= 0 else { return false }
            return window.allSatisfy { Int32($0.revents) & Int32(POLLNVAL) != 0 }
        }
        if topFree { return true }
        // Otherwise the lowest free ones, found one after another and closed at once: none past the limit is found.
        guard Self.anchor >= 0 else { return true }
        var from: Int32 = 0
        for _ in 0..<count {
            let found = fcntl(Self.anchor, F_DUPFD_CLOEXEC, from)
            guard found >= 0 else { return false }
            close(found)
            from = found + 1
        }
        return true
    }

    /// Why a listener holding this reserve does not accept, as its log line says it.
    public var shortage: String {
        "fewer than \(count) file descriptors free, kept for the admin endpoint and the runtime"
    }

    /// A descriptor to duplicate when counting, opened with the first reserve (while descriptors are plenty) and
    /// open for the process's life.
    private static let anchor: Int32 = open("/dev/null", O_RDONLY | O_CLOEXEC)
}
