import Foundation
import Logging

/// Serin's `LogHandler`: one line per log event, in the format asked for (`--log-format`), to one output.
///
/// Text is Serin's terminal look: `HH:mm:ss message` in local time, `error: ` first for errors and critical
/// lines. Its messages already name the canary and the numbers, so metadata stays out of the line.
///
/// JSON is one object per line for log pipelines (Loki, Elasticsearch, `jq`): `time` (RFC 3339, UTC), `level`,
/// `logger` (the label), `message`, `error` when the line carries one, then every metadata field — the
/// logger's, the provider's and the line's, the line's winning — as a field of its own. A metadata key named
/// like one of those is written as `metadata.KEY`, so it never hides them.
public struct SerinLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let format: LogFormat
    private let output: any LogOutput

    public init(label: String, format: LogFormat, output: any LogOutput = StandardOutput()) {
        self.label = label
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        switch format {
        case .text: output.write(line: textLine(event))
        case .json: output.write(line: jsonLine(event))
        }
    }

    func textLine(_ event: LogEvent) -> String {
        LogTime.clock(Date()) + " " + (event.level >= .error ? "\(event.level.rawValue): " : "") + "\(event.message)"
    }

    static let lineFields: Set<String> = ["time", "level", "logger", "message", "error"]

    func jsonLine(_ event: LogEvent) -> String {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "{\"time\":" + JSONText.string(LogTime.rfc3339(Date()))
        line += ",\"level\":" + JSONText.string(event.level.rawValue)
        line += ",\"logger\":" + JSONText.string(label)
        line += ",\"message\":" + JSONText.string("\(event.message)")
        if let error = event.error { line += ",\"error\":" + JSONText.string("\(error)") }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            let name = Self.lineFields.contains(key) ? "metadata.\(key)" : key
            line += "," + JSONText.string(name) + ":" + JSONText.value(value)
        }
        return line + "}"
    }
}
