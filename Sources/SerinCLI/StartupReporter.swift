import Logging
import SerinLogging
import SerinManifests

/// Where a long-running command says what is wrong before it serves: a manifest's diagnostics and the error that
/// stops it. With text logs these are the plain lines a person and an editor read on standard error
/// (`path:line:column: warning: message`); with `--log-format json` they are events of the JSON log, so a log
/// pipeline that parses every line as JSON gets each of them too, a diagnostic's place as `file`, `line` and
/// `column` fields.
struct StartupReporter {
    /// The JSON log's logger; nil for text.
    let jsonLogger: Logger?
    /// Warnings about files under this directory go unsaid: the demo's own copy of the seed, whose legacy
    /// Deployment API is the seed's as written, nothing for the person running the demo to fix.
    var quietWarningsUnder: String?

    init(format: LogFormat, logger: Logger) {
        jsonLogger = format == .json ? logger : nil
    }

    /// Plain lines on standard error, for the commands without a log.
    static let terminal = StartupReporter(jsonLogger: nil)

    private init(jsonLogger: Logger?) {
        self.jsonLogger = jsonLogger
    }

    func report(_ diagnostic: Diagnostic) {
        if diagnostic.severity == .warning, let quiet = quietWarningsUnder, diagnostic.location?.file.hasPrefix(quiet + "/") == true {
            return
        }
        guard let logger = jsonLogger else { return Terminal.err(diagnostic.description) }
        var metadata: Logger.Metadata = [:]
        if let location = diagnostic.location {
            metadata["file"] = "\(location.file)"
            metadata["line"] = "\(location.line)"
            metadata["column"] = "\(location.column)"
        }
        logger.log(level: diagnostic.severity == .error ? .error : .warning, "\(diagnostic.message)", metadata: metadata)
    }

    /// The error that ends the command, said before it exits 1.
    func error(_ message: String) {
        guard let logger = jsonLogger else { return Terminal.err("error: \(message)") }
        logger.error("\(message)")
    }

    func warning(_ message: String) {
        guard let logger = jsonLogger else { return Terminal.err("warning: \(message)") }
        logger.warning("\(message)")
    }
}

extension LogOptions {
    /// The command's startup reporter, writing as its `logger` does.
    func reporter(_ logger: Logger) -> StartupReporter { StartupReporter(format: logFormat, logger: logger) }
}
