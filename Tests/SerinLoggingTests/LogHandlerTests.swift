import Foundation
import Logging
import SerinLogging
import Testing

/// Collects the lines a handler writes.
final class CollectedLines: LogOutput, @unchecked Sendable {
    // Written from the test's task only; the lock keeps the checker honest.
    private let lock = NSLock()
    private var collected: [String] = []

    func write(line: String) { lock.withLock { collected.append(line) } }

    var lines: [String] { lock.withLock { collected } }
}

@Suite("SerinLogHandler as JSON")
struct JSONLogHandlerTests {
    static func object(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }

    @Test("each line is one JSON object with time, level, logger, message and the canary's metadata as fields")
    func lineCarriesMetadata() throws {
        let output = CollectedLines()
        var logger = LogSettings(format: .json, output: output).logger(label: "serin.up")
        logger[metadataKey: "canary"] = "shop/web"
        logger.warning("web: rolled back", metadata: ["canaryWeight": "0", "checks": ["rate", "p99"]])
        let line = try #require(output.lines.first)
        #expect(output.lines.count == 1)
        #expect(!line.contains("\n"))
        let object = try Self.object(line)
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "serin.up")
        #expect(object["message"] as? String == "web: rolled back")
        #expect(object["canary"] as? String == "shop/web")
        #expect(object["canaryWeight"] as? String == "0")
        #expect(object["checks"] as? [String] == ["rate", "p99"])
        let time = try #require(object["time"] as? String)
        let parsed = ISO8601DateFormatter.withFractionalSeconds.date(from: time)
        #expect(parsed.map { abs($0.timeIntervalSinceNow) < 60 } == true, "time \(time) is not RFC 3339 UTC near now")
    }

    @Test("quotes, backslashes, newlines and control characters in a message stay inside one valid line")
    func escapes() throws {
        let output = CollectedLines()
        let logger = LogSettings(format: .json, output: output).logger(label: "serin")
        let message = "a \"quoted\" path C:\\tmp\nsecond line\u{01}"
        logger.info("\(message)")
        #expect(output.lines.count == 1)
        #expect(try Self.object(output.lines[0])["message"] as? String == message)
    }

    @Test("a metadata key named like a line field is written as metadata.KEY and never replaces the field")
    func reservedKeys() throws {
        let output = CollectedLines()
        let logger = LogSettings(format: .json, output: output).logger(label: "serin")
        logger.error("cannot save", metadata: ["message": "shadow", "level": "debug"])
        let object = try Self.object(output.lines[0])
        #expect(object["message"] as? String == "cannot save")
        #expect(object["level"] as? String == "error")
        #expect(object["metadata.message"] as? String == "shadow")
        #expect(object["metadata.level"] as? String == "debug")
    }

    @Test("an error given with the line is its error field")
    func errorField() throws {
        struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }
        let output = CollectedLines()
        let logger = LogSettings(format: .json, output: output).logger(label: "serin")
        logger.error("web: cannot save rollout state: disk full", error: DiskFull())
        #expect(try Self.object(output.lines[0])["error"] as? String == "disk full")
    }
}

@Suite("SerinLogHandler as text")
struct TextLogHandlerTests {
    @Test("a line is the local time and the message, as Serin always printed; metadata stays out of it")
    func todaysLook() throws {
        let output = CollectedLines()
        var logger = LogSettings(format: .text, output: output).logger(label: "serin.up")
        logger[metadataKey: "canary"] = "shop/web"
        logger.info("web: advance canary weight to 20%")
        let line = try #require(output.lines.first)
        #expect(line.wholeMatch(of: /\d\d:\d\d:\d\d web: advance canary weight to 20%/) != nil, "\(line)")
    }

    @Test("errors say so first", arguments: [(Logger.Level.error, true), (.critical, true), (.warning, false), (.notice, false)])
    func errorPrefix(level: Logger.Level, prefixed: Bool) throws {
        let output = CollectedLines()
        LogSettings(format: .text, output: output).logger(label: "serin").log(level: level, "web: cannot save rollout state")
        let line = try #require(output.lines.first)
        #expect(line.dropFirst(9).hasPrefix("\(level.rawValue): ") == prefixed, "\(line)")
    }
}

@Suite("LogSettings")
struct LogSettingsTests {
    @Test("at level warning, info and debug lines are left out and warnings and errors written", arguments: LogFormat.allCases)
    func levelFilters(format: LogFormat) {
        let output = CollectedLines()
        let logger = LogSettings(format: format, level: .warning, output: output).logger(label: "serin")
        logger.debug("chatter")
        logger.info("web: advance canary weight to 20%")
        logger.warning("web: halt")
        logger.error("web: cannot save rollout state")
        #expect(output.lines.count == 2, "\(output.lines)")
        #expect(output.lines.allSatisfy { !$0.contains("chatter") && !$0.contains("advance") })
    }
}

extension ISO8601DateFormatter {
    static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
