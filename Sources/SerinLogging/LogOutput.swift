import Foundation

/// Where finished log lines go: standard output for the commands, something that can clear a progress line
/// first for `serin demo`.
public protocol LogOutput: Sendable {
    /// Writes one line; `line` has no trailing newline.
    func write(line: String)
}

/// Standard output, one `write` per line so lines from concurrent loggers never interleave.
public struct StandardOutput: LogOutput {
    public init() {}

    public func write(line: String) {
        StandardStream.output.write(line + "\n", onBrokenPipe: .drop)
    }
}
