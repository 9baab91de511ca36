import ArgumentParser
import Logging
import SerinLogging

/// `--log-format` and `--log-level`, shared by the long-running commands.
struct LogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How log lines look: text (time and message) or json (one object per line).", valueName: "text|json"))
    var logFormat: LogFormat = .text

    @Option(help: ArgumentHelp("The least severe lines written.", valueName: "trace|debug|info|notice|warning|error|critical"))
    var logLevel: LogLevelArgument = LogLevelArgument(.info)

    var settings: LogSettings { LogSettings(format: logFormat, level: logLevel.level) }

    /// The command's logger, labelled `serin.COMMAND`.
    func logger(_ command: String) -> Logger { settings.logger(label: "serin.\(command)") }
}

extension LogFormat: ExpressibleByArgument {}

/// A swift-log level on the command line (`Logger.Level` is not ours to extend with ArgumentParser's protocol).
struct LogLevelArgument: ExpressibleByArgument, Sendable {
    var level: Logger.Level

    init(_ level: Logger.Level) { self.level = level }

    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument.lowercased()) else { return nil }
        self.level = level
    }

    var defaultValueDescription: String { level.rawValue }
    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
}
