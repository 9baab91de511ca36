import SerinController
import SerinCore
import SerinEmbedded
import SerinHTTP
import SerinManifests
import SerinTesting
import Testing

/// Whole rollouts whose analysis reads a real Prometheus scraping the gateway.
@Suite(
    "Rollouts analysed through Prometheus", .timeLimit(.minutes(2)),
    .enabled(if: PrometheusServer.shouldRun, "Prometheus is not installed here (apt-get install prometheus); CI runs this")
)
struct PrometheusRolloutTests {
    /// Runs `body` with a harness whose controller reads `prometheus`, which scrapes the harness's admin port.
    static func withPrometheus(
        canary: ManifestSource, canaryErrorRate: Double = 0,
        _ body: (CanaryRolloutTests.Harness, PrometheusServer, TestBackends) async throws -> Void
    ) async throws {
        let ports = TestBackends()
        let adminPort = try await ports.closedPort()
        let prometheusPort = try await ports.closedPort()
        let prometheus = try await PrometheusServer.start(port: prometheusPort, scraping: ["127.0.0.1:\(adminPort)"], group: ports.group)
        defer { prometheus.stop() }
        try await CanaryRolloutTests.withHarness(
            canary: canary, canaryErrorRate: canaryErrorRate, metrics: .prometheus(address: prometheus.address), adminPort: adminPort
        ) { harness in
            try await body(harness, prometheus, ports)
        }
        await ports.shutdown()
    }

    @Test("a healthy canary is promoted on Prometheus's numbers")
    func healthyPromoted() async throws {
        try await Self.withPrometheus(canary: SeedManifests.canary(interval: "4s", threshold: 3, stepWeights: [50], progressDeadline: "1m")) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            let measurements = try await harness.controller.measurements(of: harness.name)
            let successRate = try #require(measurements.last { $0.metric == "request-success-rate" && $0.verdict == "pass" })
            #expect(successRate.canaryValue == 100)
            #expect(successRate.canaryRequests > 0)
        }
    }

    @Test("a failing canary is rolled back on Prometheus's numbers")
    func failingRolledBack() async throws {
        try await Self.withPrometheus(
            canary: SeedManifests.canary(interval: "4s", threshold: 2, stepWeights: [50], progressDeadline: "1m"), canaryErrorRate: 0.5
        ) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .failed)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("rolled back: request-success-rate") }, "\(events)")
        }
    }

    @Test("Prometheus stopped mid-rollout fails checks with the reason; the rollout goes on when it returns")
    func prometheusOutage() async throws {
        try await Self.withPrometheus(
            canary: SeedManifests.canary(interval: "3s", threshold: 4, stepWeights: [25, 50], progressDeadline: "2m")
        ) { harness, prometheus, ports in
            _ = try await harness.waitFor("the first step", timeout: .seconds(30)) { $0.canaryWeight == 25 }
            prometheus.stop()
            let failed = try await harness.waitFor("a failed check", timeout: .seconds(30)) { $0.failedChecks >= 1 }
            #expect(failed.phase == .progressing)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("halt") && $0.contains("unreachable after 3 attempts") }, "\(events)")
            let back = try await PrometheusServer.start(port: prometheus.port, scraping: ["127.0.0.1:\(harness.runtime.admin.port)"], group: ports.group)
            defer { back.stop() }
            let final = try await harness.waitFor("promotion after the outage", timeout: .seconds(90)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.failedChecks >= 1 && final.failedChecks < 4)
        }
    }
}
