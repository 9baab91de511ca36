#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open files, which also limits the gateway's connections: a client connection takes a
/// file descriptor, and the upstream connection that serves it takes another.
///
/// Shells and service managers often start a process with a soft limit of 1,024 under a much higher hard limit.
/// The gateway raises its soft limit to the hard one when it starts, as Go's runtime does, and caps its client
/// connections at what the limit can hold. A connection over the cap is closed as it is accepted. Without the
/// cap, accepts and upstream connects would fail for lack of file descriptors.
public enum OpenFileLimit {
    /// Raises the soft limit to the hard limit, if it is lower, and returns the limits before and after.
    /// Returns nil when the limit cannot be read.
    public static func raiseToHardLimit() -> (before: Int, now: Int)? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        let before = Self.count(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        // An unlimited hard limit is refused for files on Linux; the kernel's own ceiling (nr_open) stands then.
        if setrlimit(Self.resource, &raised) != 0 {
            raised.rlim_cur = rlim_t(min(Self.count(limit.rlim_max), Self.kernelCeiling))
            guard raised.rlim_cur > limit.rlim_cur, setrlimit(Self.resource, &raised) == 0 else { return (before, before) }
        }
        return (before, Self.count(raised.rlim_cur))
    }

    /// The soft limit as it is now; nil when it cannot be read.
    public static var current: Int? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        return Self.count(limit.rlim_cur)
    }

    /// The most client connections `openFiles` descriptors can hold: two each, after what is kept back for the
    /// listeners, the admin endpoint, the state file, logs and idle upstream connections (a quarter of the
    /// limit, at most 256).
    public static func connections(fitting openFiles: Int) -> Int {
        max(1, (openFiles - min(256, openFiles / 4)) / 2)
    }

    private static let resource: Int32 = {
        #if canImport(Glibc)
        Int32(RLIMIT_NOFILE.rawValue)
        #else
        RLIMIT_NOFILE
        #endif
    }()

    /// Linux's default `fs.nr_open`.
    private static let kernelCeiling = 1 << 20

    private static func count(_ value: rlim_t) -> Int {
        value > rlim_t(Int.max) ? Int.max : Int(value)  // RLIM_INFINITY is all ones
    }
}
