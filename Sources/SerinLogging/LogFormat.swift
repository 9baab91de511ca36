import Logging

/// How Serin's log lines look: `text` for a person at a terminal, `json` for a log pipeline.
public enum LogFormat: String, CaseIterable, Sendable {
    /// `HH:mm:ss message`, as Serin has always printed; errors say `error:` first.
    case text
    /// One JSON object per line: `time` (RFC 3339, UTC), `level`, `logger`, `message`, then the metadata.
    case json
}

/// The format and level a command logs at, and the loggers it hands to the pieces it assembles.
///
/// Commands build their loggers here rather than through `LoggingSystem.bootstrap`: the bootstrap may run once
/// per process, and the tests run many commands in one process.
public struct LogSettings: Sendable {
    public var format: LogFormat
    public var level: Logger.Level
    public var output: any LogOutput

    public init(format: LogFormat = .text, level: Logger.Level = .info, output: any LogOutput = StandardOutput()) {
        self.format = format
        self.level = level
        self.output = output
    }

    /// A handler writing lines labelled `label` in this format, at this level, to this output.
    public func handler(label: String) -> any LogHandler {
        var handler = SerinLogHandler(label: label, format: format, output: output)
        handler.logLevel = level
        return handler
    }

    public func logger(label: String) -> Logger {
        Logger(label: label) { handler(label: $0) }
    }
}
