import Foundation

/// Standard output or standard error, written without trapping when the reader has gone: Foundation's
/// `FileHandle.write(_:)` stops the process with a fatal error on `EPIPE`, so `serin history web | head -2` crashed.
public enum StandardStream: Sendable {
    case output
    case error

    /// What a failed write does.
    public enum OnBrokenPipe: Sendable {
        /// End the process as a pipe's reader going away ends any command-line tool (`SIGPIPE`, status 141 in a
        /// shell): the commands whose output is the result.
        case exit
        /// Drop the text and keep running: the servers' logs, which must not take the gateway down with them.
        case drop
    }

    /// Writes `text` whole, in one call per chunk the kernel takes, so lines from concurrent writers never interleave.
    public func write(_ text: String, onBrokenPipe: OnBrokenPipe = .exit) {
        let handle = self == .output ? FileHandle.standardOutput : FileHandle.standardError
        do {
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            guard onBrokenPipe == .exit, Self.isBrokenPipe(error) else { return }
            // The default action of SIGPIPE, which the Swift runtime ignores: the status a shell reports as 141.
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
        }
    }

    /// `EPIPE`, as Foundation reports it: a Cocoa write error whose underlying error is the POSIX one.
    static func isBrokenPipe(_ error: any Error) -> Bool {
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return error.code == Int(EPIPE) }
        return (error.userInfo[NSUnderlyingErrorKey] as? NSError).map(isBrokenPipe) ?? false
    }
}
