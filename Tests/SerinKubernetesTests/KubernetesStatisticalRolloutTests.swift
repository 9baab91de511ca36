import NIOPosix
import SerinController
import SerinCore
import SerinKubernetes
import SerinListener
import SerinPrometheus
import SerinTesting
import Testing

/// Istio's request counters for the seed's two services, growing on every scrape: the stable answers everything,
/// the canary fails `canaryFailures` of every hundred.
actor GrowingIstioCounters {
    private var scrapes = 0
    private let canaryFailures: Int

    init(canaryFailures: Int) {
        self.canaryFailures = canaryFailures
    }

    func scrape() -> String {
        scrapes += 1
        let hundreds = scrapes * 10
        func line(_ service: String, _ code: Int, _ value: Int) -> String {
            #"istio_requests_total{reporter="destination",destination_service_name="\#(service)",destination_service_namespace="default",response_code="\#(code)"} \#(value)"#
        }
        return """
            # TYPE istio_requests_total counter
            \(line("web-v1-service", 200, hundreds * 900))
            \(line("web-v2-service", 200, hundreds * (100 - canaryFailures)))
            \(line("web-v2-service", 503, hundreds * canaryFailures))

            """
    }
}

/// The statistical judge in Kubernetes mode: the Canary names it in the cluster, and its numbers are the counts a
/// real Prometheus scraped of Istio's series.
@Suite(
    "Statistical judge on Kubernetes, from Prometheus counts", .timeLimit(.minutes(2)),
    .enabled(if: PrometheusServer.shouldRun, Comment(rawValue: PrometheusServer.skipReason))
)
struct KubernetesStatisticalRolloutTests {
    static func withCluster(
        canaryFailures: Int, _ body: (KubernetesAPIServer, LogRecorder) async throws -> Void
    ) async throws {
        let counters = GrowingIstioCounters(canaryFailures: canaryFailures)
        let exporter = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { _ in
            .content(await counters.scrape(), contentType: "text/plain; version=0.0.4")
        }
        let prometheus = try await PrometheusServer.start(scraping: ["127.0.0.1:\(exporter.port)"], group: MultiThreadedEventLoopGroup.singleton)
        defer { prometheus.stop() }
        try await KubernetesAPIClientTests.withServer { server, api in
            KubernetesRolloutTests.putSeedVirtualService(server)
            let lines = LogRecorder()
            let stop = try await KubernetesRolloutTests.startController(
                api: api, metrics: ClusterMetricTemplateTests.metrics(defaultPrometheus: prometheus.address), logger: lines.logger())
            server.put(KubernetesRolloutTests.canary([
                "interval": "1s", "threshold": 5, "stepWeights": [50], "judge": "statistical",
                "statistical": ["errorRateIncrease": 10, "minStepDuration": "1s"],
                "metrics": [["name": "request-success-rate", "thresholdRange": ["min": 0], "interval": "1m"]],
            ]), at: KubernetesRolloutTests.canaryKey)
            do {
                try await body(server, lines)
            } catch {
                await stop()
                await exporter.close()
                throw error
            }
            await stop()
            await exporter.close()
        }
    }

    @Test("a canary failing 40% of requests against a stable failing none is rolled back as worse, with the numbers, not after threshold checks")
    func failingCanaryRolledBack() async throws {
        try await Self.withCluster(canaryFailures: 40) { server, lines in
            #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Failed" }, "\(lines.messages)")
            let told = await lines.eventuallyLogs("rolled back", "request-success-rate: error rate canary ", "vs stable 0%", "worse beyond")
            #expect(told, "\(lines.messages)")
            #expect((server.object(KubernetesRolloutTests.canaryKey)?["status"]?["failedChecks"]?.intValue ?? 0) == 1)
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [100, 0] })
        }
    }

    @Test("a canary failing as little as the stable is shown no worse and promoted")
    func healthyCanaryPromoted() async throws {
        try await Self.withCluster(canaryFailures: 0) { server, lines in
            #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [0, 100] })
        }
    }
}
