import Foundation
@testable import SerinCLI
import SerinCore
import SerinServer
import Testing

/// `serin simulate --replay`'s reading of a Canary's history: a recorded release back into traffic.
@Suite("History replay")
struct HistoryReplayTests {
    static let start = 1_700_000_000.0
    static let latency = SimulatedTraffic.Version(errorRate: 0.001, medianMilliseconds: 20)

    /// One measurement as `serin history NAME -o json` prints it, `at` seconds after the release started.
    static func measurement(
        at seconds: Double, _ metric: String = "request-success-rate", canary: Double?, stable: Double?,
        requests: (canary: Int, stable: Int), weight: Int = 10, window: Double? = nil
    ) -> String {
        let value = { (number: Double?) in number.map { "\($0)" } ?? "null" }
        return """
            {"time": \(start + seconds), "metric": "\(metric)", "canary": \(value(canary)), "stable": \(value(stable)), \
            "canaryRequests": \(requests.canary), "stableRequests": \(requests.stable), "canaryWeight": \(weight), \
            \(window.map { "\"window\": \($0), " } ?? "")"verdict": "pass"}
            """
    }

    /// A history whose last release started at `start`, after an older one, with `measurements`.
    static func history(_ measurements: [String]) throws -> CanaryHistory {
        let json = """
            {"releases": [
              {"stable": "web-v0-service:80", "canary": "web-v1-service:80", "outcome": "Promoted", "started": \(start - 3_600), "ended": \(start - 3_000)},
              {"stable": "web-v1-service:80", "canary": "web-v2-service:80", "outcome": "Promoted", "started": \(start), "ended": \(start + 900)}
            ],
            "events": [],
            "measurements": [\(measurements.joined(separator: ",\n"))]}
            """
        return try JSONDecoder().decode(CanaryHistory.self, from: Data(json.utf8))
    }

    static func replay(_ measurements: [String]) throws -> HistoryReplay {
        try HistoryReplay(try history(measurements), source: "web.json", defaultLatency: latency)
    }

    @Test("windowed looks (the threshold judge): each window's rate and error rates, p99 as the median, from each look's time")
    func windowedLooks() throws {
        let replay = try Self.replay([
            // The older release's measurements are not replayed.
            Self.measurement(at: -3_300, canary: 10, stable: 10, requests: (100, 100), window: 60),
            Self.measurement(at: 60, canary: 100, stable: 99.9, requests: (600, 5_400), window: 60),
            Self.measurement(at: 60, "request-duration", canary: 64, stable: 32, requests: (600, 5_400), window: 60),
            Self.measurement(at: 120, canary: 80, stable: 99, requests: (2_400, 9_600), weight: 20, window: 60),
        ])
        #expect(replay.release == "web-v2-service:80")
        #expect(replay.recorded == .seconds(120))
        let segments = replay.traffic.segments
        #expect(segments.map(\.from) == [.seconds(60), .seconds(120)])
        #expect(segments.map(\.requestsPerSecond) == [100, 200])
        #expect(segments.map(\.canary.errorRate).map { ($0 * 1_000).rounded() / 1_000 } == [0, 0.2])
        #expect(segments.map(\.stable.errorRate).map { ($0 * 1_000).rounded() / 1_000 } == [0.001, 0.01])
        // Latency holds until a later request-duration says otherwise.
        #expect(segments.map(\.canary.medianMilliseconds).allSatisfy { abs($0 - 20) < 0.05 }, "\(segments)")
        #expect(segments.map(\.stable.medianMilliseconds).allSatisfy { abs($0 - 10) < 0.05 }, "\(segments)")
        // The first look's traffic holds from the start, the last's after the end.
        #expect(replay.traffic.segment(at: .zero) == segments[0])
        #expect(replay.traffic.segment(at: .seconds(3_600)) == segments[1])
    }

    @Test("cumulative looks (the statistical judge): a look that continues the step counts only what it added")
    func cumulativeLooks() throws {
        let replay = try Self.replay([
            Self.measurement(at: 10, canary: 100, stable: 100, requests: (100, 900), window: 10),
            // 100 more canary requests, 10 of them failed: 10% in the last 10 s, 5% over the step.
            Self.measurement(at: 20, canary: 95, stable: 100, requests: (200, 1_800), window: 20),
            // A new step: the weight changed and the window started again.
            Self.measurement(at: 25, canary: 90, stable: 100, requests: (100, 400), weight: 20, window: 5),
        ])
        let segments = replay.traffic.segments
        #expect(segments.map(\.requestsPerSecond) == [100, 100, 100])
        #expect(segments.map(\.canary.errorRate).map { ($0 * 1_000).rounded() / 1_000 } == [0, 0.1, 0.1])
        #expect(segments.map(\.stable.errorRate) == [0, 0, 0])
    }

    @Test("without a window, a look covers the time since the one before, and the first a minute")
    func missingWindows() throws {
        let replay = try Self.replay([
            Self.measurement(at: 60, canary: 100, stable: 100, requests: (60, 540)),
            Self.measurement(at: 90, canary: 100, stable: 100, requests: (60, 540)),
        ])
        #expect(replay.traffic.segments.map(\.requestsPerSecond) == [10, 20])
    }

    @Test("a version without requests keeps its rate before, and its first reading holds before it has one")
    func versionsWithoutRequests() throws {
        let replay = try Self.replay([
            Self.measurement(at: 60, canary: nil, stable: 100, requests: (0, 600), weight: 0, window: 60),
            Self.measurement(at: 120, canary: 90, stable: 100, requests: (60, 540), window: 60),
            Self.measurement(at: 180, canary: nil, stable: 99, requests: (0, 600), weight: 0, window: 60),
        ])
        #expect(replay.traffic.segments.map(\.canary.errorRate).map { ($0 * 1_000).rounded() / 1_000 } == [0.1, 0.1, 0.1])
        #expect(replay.traffic.segments.map(\.stable.errorRate).map { ($0 * 1_000).rounded() / 1_000 } == [0, 0, 0.01])
    }

    @Test("a history without releases, or without request counts for the last one, is refused naming the file")
    func refusals() throws {
        let noReleases = try JSONDecoder().decode(CanaryHistory.self, from: Data(#"{"releases": [], "events": [], "measurements": []}"#.utf8))
        #expect(throws: HistoryReplay.Failure(
            description: "web.json holds no releases; expected the output of serin history NAME -o json")) {
            try HistoryReplay(noReleases, source: "web.json", defaultLatency: Self.latency)
        }
        #expect(throws: HistoryReplay.Failure(description:
            "web.json holds no request-success-rate measurements for the last release; replay needs request counts")) {
            try Self.replay([
                Self.measurement(at: -3_300, canary: 100, stable: 100, requests: (100, 100), window: 60),
                Self.measurement(at: 60, "request-duration", canary: 64, stable: 32, requests: (600, 5_400), window: 60),
            ])
        }
    }
}
