import Foundation
import SerinCore
import SerinPrometheus
import SerinTesting
import Testing

/// `deploy/grafana/serin.json` against a real Prometheus scraping a running rollout: every panel's query, with the
/// dashboard's variables set to "All", returns data.
@Suite(
    "Grafana dashboard", .timeLimit(.minutes(2)),
    .enabled(if: PrometheusServer.shouldRun, "Prometheus is not installed here (apt-get install prometheus); CI runs this")
)
struct GrafanaDashboardTests {
    struct Dashboard: Decodable {
        struct Panel: Decodable {
            struct Target: Decodable {
                var expr: String
            }

            var title: String
            var targets: [Target]
        }

        struct Templating: Decodable {
            struct Variable: Decodable {
                var name: String
            }

            var list: [Variable]
        }

        var uid: String
        var panels: [Panel]
        var templating: Templating
    }

    static func dashboard() throws -> Dashboard {
        let file = SerinProcess.repositoryRoot.appendingPathComponent("deploy/grafana/serin.json")
        return try JSONDecoder().decode(Dashboard.self, from: Data(contentsOf: file))
    }

    /// A panel's query as Grafana sends it with every variable on "All" and a rate window Prometheus can fill.
    static func resolved(_ expr: String) -> String {
        expr.replacingOccurrences(of: "$__rate_interval", with: "30s")
            .replacingOccurrences(of: "$namespace", with: ".*")
            .replacingOccurrences(of: "$canary", with: ".*")
    }

    @Test("the dashboard has Serin's panels, and its variables are what the queries use")
    func shape() throws {
        let dashboard = try Self.dashboard()
        #expect(dashboard.uid == "serin-canaries")
        #expect(dashboard.templating.list.map(\.name) == ["datasource", "namespace", "canary"])
        let queries = dashboard.panels.flatMap(\.targets).map(\.expr).joined(separator: "\n")
        for metric in ["serin_canary_weight", "serin_canary_phase", "serin_canary_failed_checks", "serin_canary_analysis_total",
                       "istio_requests_total", "istio_request_duration_milliseconds_bucket"] {
            #expect(queries.contains(metric), "no panel reads \(metric)")
        }
        #expect(!Self.resolved(queries).contains("$"), "a variable the test does not set: \(queries)")
    }

    @Test("every panel's query returns data from a Prometheus scraping a running rollout")
    func everyPanelHasData() async throws {
        let dashboard = try Self.dashboard()
        let canary = SeedManifests.canary(interval: "1s", stepWeights: Array(stride(from: 10, through: 90, by: 10)), progressDeadline: "2m")
        try await PrometheusRolloutTests.withPrometheus(canary: { _ in canary }, controllerReadsPrometheus: false) { _, prometheus, _ in
            let client = PrometheusClient(address: prometheus.address)
            var empty: [String] = []
            let all = await eventually(.seconds(60)) {
                empty = []
                for panel in dashboard.panels {
                    for target in panel.targets {
                        switch await client.query(Self.resolved(target.expr)) {
                        case .value, .multipleSeries: break
                        case let other: empty.append("\(panel.title): \(other)")
                        }
                    }
                }
                return empty.isEmpty
            }
            #expect(all, "panels without data: \(empty)")
        }
    }
}
