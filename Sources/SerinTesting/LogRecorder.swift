import Logging
import NIOConcurrencyHelpers

/// Keeps every line the loggers it makes write, with level and metadata, so a test asserts on what was logged
/// instead of scraping output.
public final class LogRecorder: Sendable {
    /// One logged line, the logger's metadata merged with the line's.
    public struct Record: Sendable, CustomStringConvertible {
        public var label: String
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata

        public var description: String { "\(level) \(message) \(metadata)" }
    }

    private let records = NIOLockedValueBox<[Record]>([])

    public init() {}

    /// A logger whose lines at `level` and above are kept here.
    public func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { RecordingLogHandler(label: $0, recorder: self) }
        logger.logLevel = level
        return logger
    }

    public var entries: [Record] { records.withLockedValue { $0 } }

    /// The messages, in order.
    public var messages: [String] { entries.map(\.message) }

    /// How many messages contain every one of `words`.
    public func count(containing words: String...) -> Int { count(containing: words) }

    /// Whether, within `timeout`, at least `times` messages contain every one of `words`.
    public func eventuallyLogs(_ words: String..., times: Int = 1, within timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout) { count(containing: words) >= times }
    }

    private func count(containing words: [String]) -> Int {
        messages.count { message in words.allSatisfy { message.contains($0) } }
    }

    fileprivate func keep(_ record: Record) { records.withLockedValue { $0.append(record) } }
}

/// The `LogHandler` behind `LogRecorder.logger`.
struct RecordingLogHandler: LogHandler {
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    let label: String
    let recorder: LogRecorder

    init(label: String, recorder: LogRecorder) {
        self.label = label
        self.recorder = recorder
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.keep(.init(
            label: label, level: event.level, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { _, line in line }
        ))
    }
}

extension Logger {
    /// A logger that writes nowhere, for the pieces a test does not read the log of.
    public static let discarding = Logger(label: "discarded") { _ in SwiftLogNoOpLogHandler() }
}
