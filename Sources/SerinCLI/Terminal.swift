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

    /// The columns of the terminal on standard output, nil when it says none (a pipe, a file).
    static var columns: Int? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Back to the line's start, and the line cleared: where the live line is drawn again.
    static let clearLine = "\r\u{1B}[2K"

    /// Draws `line` as the live line: back to the line's start, cleared, drawn, and cut to the terminal's width so it
    /// never wraps (a wrapped line's upper rows would stay behind at every redraw).
    static func redraw(_ line: String) {
        StandardStream.output.write(clearLine + fitted(line, columns: columns))
    }

    /// `line` cut to fit in `columns - 1` (the last column left free, so no terminal wraps it), ending in `…` when cut.
    static func fitted(_ line: String, columns: Int?) -> String {
        guard let columns, columns > 1, line.count > columns - 1 else { return line }
        return String(line.prefix(columns - 2)) + "…"
    }
}
