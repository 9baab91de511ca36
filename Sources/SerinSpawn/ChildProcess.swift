#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// A program Serin starts (an exec credential plugin; in tests, `serin`, Prometheus, Chromium), launched with
/// posix_spawn. Foundation's `Process.run()` on Linux (Swift 6.3.1) reads `/proc/self/fd` with a 256-byte copy
/// of each directory entry and crashes now and then when an entry ends a page — seen in this repository's
/// test runs; this launcher has no such step: the child closes every inherited descriptor above stderr
/// (`closefrom`) before it runs.
public final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// This open descriptor of ours (a pipe's write end, an opened file), duplicated into the child.
        case descriptor(Int32)
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)

        /// The exit status, or 128 + the signal, as a shell reports it.
        public var status: Int32 {
            switch self {
            case .exited(let status): status
            case .signalled(let signal): 128 + signal
            }
        }
    }

    /// Why the program could not be started.
    public struct LaunchFailed: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: pid_t
    private let ended = NIOLockedValueBox<Termination?>(nil)

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `executable` (a path) with `arguments`, in `directory` (default: ours), with `environment`
    /// (default: ours).
    public static func spawn(
        _ executable: String, arguments: [String], directory: String? = nil, environment: [String: String]? = nil,
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        guard let closeFrom = GlibcExtensions.closeFrom else {
            throw LaunchFailed(description: "this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later has)")
        }
        _ = closeFrom(&actions, 3)
        if let directory {
            guard let changeDirectory = GlibcExtensions.changeDirectory else {
                throw LaunchFailed(description: "this C library has no posix_spawn_file_actions_addchdir_np (glibc 2.29 or later has)")
            }
            let result = directory.withCString { changeDirectory(&actions, $0) }
            if result != 0 { throw LaunchFailed(description: "cannot run \(executable) in \(directory): \(String(cString: strerror(result)))") }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no signal blocked and every signal at its default (we may ignore SIGPIPE).
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        let envp = variables.map { $0.map { strdup($0) } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid = pid_t()
        let result: Int32 =
            if let envp {
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            } else {
                posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            }
        guard result == 0 else {
            throw LaunchFailed(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid)
    }

    /// How it ended, once it has (reaping it); nil while it runs.
    public var termination: Termination? {
        ended.withLockedValue { ended in
            if let ended { return ended }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            ended = Self.termination(of: status)
            return ended
        }
    }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` unless it has ended already (its pid may belong to another process by then).
    public func signal(_ signal: Int32) {
        ended.withLockedValue { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    /// SIGTERM.
    public func terminate() { signal(SIGTERM) }

    /// Blocks the calling thread until it ends; keep it off the cooperative pool.
    @discardableResult
    public func waitUntilExit() -> Termination {
        while true {
            if let termination { return termination }
            var status: Int32 = 0
            let result = waitpid(pid, &status, 0)
            if result == pid {
                let termination = Self.termination(of: status)
                ended.withLockedValue { $0 = $0 ?? termination }
                return termination
            }
            if result == -1 && errno != EINTR {
                // Reaped by the other path meanwhile.
                if let termination { return termination }
                return .exited(-1)
            }
        }
    }

    private static func termination(of status: Int32) -> Termination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}

/// glibc's posix_spawn extensions, looked up at run time: Swift's Glibc module does not declare them.
private enum GlibcExtensions {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let closeFrom: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: CloseFrom.self) }
    static let changeDirectory: ChangeDirectory? =
        symbol("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: ChangeDirectory.self) }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)
    }
}
