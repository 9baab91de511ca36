import Foundation
import SerinLogging

/// Where the commands write: results to standard output, problems to standard error.
enum Terminal {
    static func out(_ line: String) {
        StandardStream.output.write(line + "\n")
    }

    static func err(_ line: String) {
        StandardStream.error.write(line + "\n")
    }

    /// Whether standard output is a terminal (live views) or a pipe/file (plain lines).
    static var isInteractive: Bool { isatty(STDOUT_FILENO) == 1 }
}
