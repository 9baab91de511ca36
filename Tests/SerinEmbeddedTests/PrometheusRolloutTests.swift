import SerinController
import SerinCore
import SerinEmbedded
import SerinListener
import SerinManifests
import SerinServer
import SerinTesting
import Testing

/// Whole rollouts whose analysis reads a real Prometheus scraping the gateway.
@Suite(
    "Rollouts analysed through Prometheus", .timeLimit(.minutes(2)),
    .enabled(if: PrometheusServer.shouldRun, "Prometheus is not installed here (apt-get install prometheus); CI runs this")
)
struct PrometheusRolloutTests {
    /// Runs `body` with a harness whose controller reads `prometheus` (or, with `controllerReadsPrometheus`
    /// false, the gateway by default), while `prometheus` scrapes the harness's admin port.
    static func withPrometheus(
        canary: (_ prometheusAddress: String) -> ManifestSource, canaryErrorRate: Double = 0, controllerReadsPrometheus: Bool = true,
        _ body: (CanaryRolloutTests.Harness, PrometheusServer, TestBackends) async throws -> Void
    ) async throws {
        let ports = TestBackends()
        let adminPort = try await ports.freePort()
        let prometheus = try await PrometheusServer.start(scraping: ["127.0.0.1:\(adminPort)"], group: ports.group)
        defer { prometheus.stop() }
        try await CanaryRolloutTests.withHarness(
            canary: canary(prometheus.address), canaryErrorRate: canaryErrorRate,
            metrics: controllerReadsPrometheus ? .prometheus(address: prometheus.address) : .gateway, adminPort: adminPort
        ) { harness in
            try await body(harness, prometheus, ports)
        }
        await ports.shutdown()
    }

    @Test("a healthy canary is promoted on Prometheus's numbers")
    func healthyPromoted() async throws {
        try await Self.withPrometheus(canary: { _ in SeedManifests.canary(interval: "4s", threshold: 3, stepWeights: [50], progressDeadline: "1m") }) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            let measurements = try await harness.controller.measurements(of: harness.name)
            let successRate = try #require(measurements.last { $0.metric == "request-success-rate" && $0.verdict == .pass })
            #expect(successRate.canaryValue == 100)
            #expect((successRate.canaryRequests ?? 0) > 0)
        }
    }

    @Test("a failing canary is rolled back on Prometheus's numbers")
    func failingRolledBack() async throws {
        try await Self.withPrometheus(
            // Two steps: on a starved machine the first check after a weight change can see too few of the canary's
            // samples (its 5xx series then counts as `vector(0)` in the query); one such check must not promote.
            canary: { _ in SeedManifests.canary(interval: "4s", threshold: 2, stepWeights: [30, 50], progressDeadline: "1m") },
            canaryErrorRate: 0.5
        ) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .failed)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("rolled back: request-success-rate") }, "\(events)")
        }
    }

    /// The statistical judge with loose tolerances, so the test's few requests a second can decide; the success-rate
    /// floor at 0 leaves the comparison with the stable, not the hard limit, to judge.
    static func statisticalCanary(_ prometheusAddress: String) -> ManifestSource {
        SeedManifests.canary(
            interval: "3s", threshold: 5, stepWeights: [30, 60], successRateMin: 0, durationMax: 5_000, progressDeadline: "1m",
            judge: "judge: statistical\n    statistical: {errorRateIncrease: 20, latencyIncrease: 100, minStepDuration: 2s}")
    }

    @Test("the statistical judge on Prometheus's counts rolls a failing canary back at its first conclusive look, against the stable")
    func statisticalRollsBackOnPrometheusCounts() async throws {
        try await Self.withPrometheus(canary: Self.statisticalCanary, canaryErrorRate: 0.6) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .failed)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            let rollback = try #require(events.first { $0.contains("rolled back:") }, "\(events)")
            #expect(rollback.contains("request-success-rate: error rate canary ") && rollback.contains("vs stable 0%"), "\(rollback)")
            #expect(!events.contains { $0.contains("halt:") }, "a conclusive failure rolls back without counting towards the threshold: \(events)")
            let measured = try await harness.controller.measurements(of: harness.name)
            let failed = try #require(measured.last { $0.metric == "request-success-rate" && $0.verdict.outcome == .fail })
            #expect(failed.comparison?.decision == .worse && failed.comparison?.quantity == .errorRate, "\(failed)")
        }
    }

    @Test("the statistical judge on Prometheus's counts and buckets promotes a healthy canary, each step shown no worse")
    func statisticalPromotesOnPrometheusCounts() async throws {
        try await Self.withPrometheus(canary: Self.statisticalCanary) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(90)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            let measured = try await harness.controller.measurements(of: harness.name)
            let passes = measured.filter { $0.verdict == .pass }
            #expect(passes.contains { $0.metric == "request-success-rate" && $0.comparison?.decision == .noWorse }, "\(measured)")
            // Latency was compared from Prometheus's buckets, not only checked against its p99 bound.
            let latency = passes.first { $0.metric == "request-duration" }?.comparison?.quantity
            guard case .slowerThan? = latency else {
                Issue.record("expected a latency comparison from Prometheus's buckets, got \(String(describing: latency))")
                return
            }
        }
    }

    @Test("Prometheus stopped mid-rollout fails checks with the reason; the rollout goes on when it returns")
    func prometheusOutage() async throws {
        try await Self.withPrometheus(
            canary: { _ in SeedManifests.canary(interval: "3s", threshold: 4, stepWeights: [25, 50], progressDeadline: "2m") }
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

    /// A Canary judged only by a custom metric: Flagger's MetricTemplate format, its query reading the
    /// gateway's Istio series in Prometheus the way Flagger's own templates do (`destination_workload` is the
    /// canary's workload, `{{ target }}`), with a template variable choosing the failing codes.
    static func customMetricCanary(prometheusAddress: String) -> ManifestSource {
        ManifestSource(path: "custom-metric.yaml", text: """
            apiVersion: flagger.app/v1beta1
            kind: MetricTemplate
            metadata:
              name: error-percentage
            spec:
              provider:
                type: prometheus
                address: \(prometheusAddress)
              query: |
                100 * (sum(rate(istio_requests_total{reporter="destination",destination_workload=~"{{ target }}",response_code=~"{{ variables.codes }}"}[{{ interval }}])) or on() vector(0))
                / sum(rate(istio_requests_total{reporter="destination",destination_workload=~"{{ target }}"}[{{ interval }}]))
            ---
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata:
              name: web
            spec:
              targetRef: {kind: VirtualService, name: web-virtualservice}
              stable: {host: web-v1-service, port: 80}
              canary: {host: web-v2-service, port: 80}
              progressDeadline: 1m
              analysis:
                interval: 4s
                threshold: 2
                stepWeights: [30, 50]  # two steps: see failingRolledBack
                metrics:
                - name: error-percentage
                  templateRef: {name: error-percentage}
                  templateVariables: {codes: "5.."}
                  thresholdRange: {max: 5}
                  interval: 4s
            """)
    }

    @Test("a custom MetricTemplate on Prometheus rolls back a failing canary while the controller's default stays the gateway")
    func customTemplateRollsBack() async throws {
        try await Self.withPrometheus(
            canary: { Self.customMetricCanary(prometheusAddress: $0) }, canaryErrorRate: 0.5, controllerReadsPrometheus: false
        ) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .failed)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("rolled back: error-percentage") }, "\(events)")
            let measured = try await harness.controller.measurements(of: harness.name).filter { $0.metric == "error-percentage" }
            let failed = try #require(measured.last { $0.verdict.outcome == .fail }, "\(measured)")
            // Half the canary's answers are 500s: the template's own arithmetic, done by Prometheus, says so — over a
            // window of a few seconds on a busy machine that can be a dozen requests, so the bounds are wide.
            #expect((10...90).contains(failed.canaryValue ?? -1), "\(failed)")
        }
    }

    @Test("a custom MetricTemplate on Prometheus promotes a healthy canary")
    func customTemplatePromotes() async throws {
        try await Self.withPrometheus(
            canary: { Self.customMetricCanary(prometheusAddress: $0) }, controllerReadsPrometheus: false
        ) { harness, _, _ in
            let final = try await harness.waitFor("a verdict", timeout: .seconds(60)) { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            let measured = try await harness.controller.measurements(of: harness.name).filter { $0.metric == "error-percentage" }
            #expect(measured.contains { $0.verdict == .pass && $0.canaryValue == 0 }, "\(measured)")
        }
    }
}
