import Foundation
import NIOConcurrencyHelpers
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// `analysis.load` on the embedded gateway, end to end with `examples/strategies/quiet-service.yaml` and no client at
/// all: the rollout is judged on Serin's own requests, which reach only the Canary's two destinations, are counted
/// apart from live traffic, and stop with the analysis.
@Suite("Synthetic load for quiet services", .timeLimit(.minutes(2)))
struct SyntheticLoadRolloutTests {
    /// The v2 demo app behind a recorder of the Host and `x-load-test` header of every request that reaches it.
    final class RecordingCanary: Sendable {
        private let seen = NIOLockedValueBox<[String]>([])
        private let app: DemoApp

        init(errorRate: Double = 0) {
            app = DemoApp(.init(version: "v2", errorRate: errorRate))
        }

        func start(_ backends: TestBackends) async throws -> HTTPListener {
            try await TestHTTPServer.start(group: backends.group) { request in
                self.seen.withLockedValue { $0.append("\(request.header("host") ?? "-") \(request.header("x-load-test") ?? "-")") }
                return await self.app.respond(to: request)
            }
        }

        var received: [String] { seen.withLockedValue { $0 } }
    }

    /// The example, fast: 1s intervals with 800ms of load at 40 requests a second, 10 requests needed per check.
    static func canary() throws -> ManifestSource {
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/strategies/quiet-service.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "interval: 10s", with: "interval: 1s")
            .replacingOccurrences(of: "duration: 8s", with: "duration: 800ms")
            .replacingOccurrences(of: "rps: 10", with: "rps: 40")
            .replacingOccurrences(of: "minRequests: 50", with: "minRequests: 10")
            .replacingOccurrences(of: "max: 500", with: "max: 5000")
        #expect(!text.contains("10s") && text.contains("load:"))
        return ManifestSource(path: "quiet-service.yaml", text: text)
    }

    static func synthetic(_ harness: CanaryRolloutTests.Harness, to host: String) -> Int {
        harness.runtime.history.window(.seconds(900)).counts.traffic(toHost: host, kinds: [.synthetic]).requests
    }

    @Test("a service no client calls is judged on Serin's own requests and promoted; they reach only v1 and v2, are counted apart, and stop with the analysis")
    func quietServicePromoted() async throws {
        let canary = RecordingCanary()
        let started = ContinuousClock.now
        try await CanaryRolloutTests.withHarness(canary: try Self.canary(), rate: 0, canaryBackend: canary.start) { harness in
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.syntheticLoad == "40 req/s for 800ms of every 1s to each of canary and stable, GET /")
            let checked = final.lastMeasurements.first { $0.metric == "request-success-rate" }
            #expect((checked?.canaryRequests ?? 0) >= 10 && (checked?.stableRequests ?? 0) >= 10, "\(final.lastMeasurements)")

            let counts = harness.runtime.history.window(.seconds(900)).counts
            #expect(counts.traffic(toHost: "web-v1-service").requests == 0 && counts.traffic(toHost: "web-v2-service").requests == 0,
                    "no live request: nobody called the service")
            let toCanary = Self.synthetic(harness, to: "web-v2-service")
            #expect(toCanary > 0 && Self.synthetic(harness, to: "web-v1-service") > 0)
            #expect(Set(counts.series.keys.map(\.destinationService)) == ["web-v1-service", "web-v2-service"])
            #expect(PrometheusExposition.render(harness.runtime.gateway.telemetry.snapshot()).contains(#"request_kind="synthetic""#))
            #expect(!canary.received.isEmpty && canary.received.allSatisfy { $0 == "web-v2-service serin" }, "\(Set(canary.received))")

            // 40 a second for 800ms of each 1s interval: never more than 32 an interval, so bounded by the time taken.
            let intervals = Int((ContinuousClock.now - started).components.seconds) + 2
            #expect(toCanary <= 32 * intervals, "\(toCanary) synthetic requests in \(intervals) intervals")

            // Promotion ended the analysis, and with it the load.
            try await Task.sleep(for: .milliseconds(500))
            let settled = Self.synthetic(harness, to: "web-v2-service")
            try await Task.sleep(for: .seconds(2))
            #expect(Self.synthetic(harness, to: "web-v2-service") == settled)
        }
    }

    @Test("a failing canary no client calls is rolled back on the synthetic requests' numbers")
    func quietFailingCanaryRolledBack() async throws {
        let canary = RecordingCanary(errorRate: 1)
        try await CanaryRolloutTests.withHarness(canary: try Self.canary(), rate: 0, canaryBackend: canary.start) { harness in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed)
            let failed = final.lastMeasurements.first { $0.metric == "request-success-rate" }
            #expect(failed?.canaryValue == 0 && (failed?.canaryRequests ?? 0) > 0, "\(final.lastMeasurements)")
            let settled = ["web-v1-service": 100, "web-v2-service": 0]
            #expect(await harness.liveWeights(settlingOn: settled) == settled)
        }
    }
}
