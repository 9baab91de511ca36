import Foundation

/// Where the commands write: results to standard output, problems to standard error.
enum Terminal {
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func err(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Whether standard output is a terminal (live views) or a pipe/file (plain lines).
    static var isInteractive: Bool { isatty(STDOUT_FILENO) == 1 }
}
