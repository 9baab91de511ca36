import NIOConcurrencyHelpers
import NIOPosix
import SerinController
import SerinCore
import SerinServer
import SerinEmbedded
import SerinKubernetes
import SerinPrometheus
import SerinTesting
import Testing

/// Custom metrics on Kubernetes: the Canary's `templateRef` names a MetricTemplate in the cluster — Serin's
/// (serin.dev) or Flagger's (flagger.app) — and a real Prometheus runs its query. The queries are constants
/// (`vector(42)`), so the verdict depends only on which query ran.
@Suite(
    "Custom metrics from the cluster's MetricTemplates", .timeLimit(.minutes(2)),
    .enabled(if: PrometheusServer.shouldRun, Comment(rawValue: PrometheusServer.skipReason))
)
struct ClusterMetricTemplateTests {
    static func template(_ groupVersion: String, query: String, prometheus: String) -> (JSONValue, KubernetesAPIServer.ObjectKey) {
        (
            [
                "apiVersion": .string(groupVersion), "kind": "MetricTemplate", "metadata": ["name": "budget", "namespace": "default"],
                "spec": ["provider": ["type": "prometheus", "address": .string(prometheus)], "query": .string(query)],
            ],
            KubernetesAPIServer.ObjectKey(groupVersion: groupVersion, resource: "metrictemplates", namespace: "default", name: "budget")
        )
    }

    /// A Canary judged only by the `budget` template: at most 10.
    static func canary(threshold: Int) -> JSONValue {
        KubernetesRolloutTests.canary([
            "interval": "500ms", "threshold": .number(Double(threshold)), "stepWeights": [50],
            "metrics": [["name": "error-budget", "templateRef": ["name": "budget"], "thresholdRange": ["max": 10], "interval": "1m"]],
        ])
    }

    /// The controller's metrics as `serin controller` wires them: the cluster's templates, signed in with their Secrets.
    static func metrics(defaultPrometheus: String) -> (ClusterMetricTemplates) -> any MetricProvider {
        { templates in
            RoutedMetricProvider(
                defaultSource: .prometheus(address: defaultPrometheus), gateway: nil,
                templates: { await templates.templates }, credentials: { await templates.credentials(for: $0) }
            )
        }
    }

    static func withController(
        _ body: (KubernetesAPIServer, PrometheusServer, NIOLockedValueBox<[String]>) async throws -> Void
    ) async throws {
        let prometheus = try await PrometheusServer.start(group: MultiThreadedEventLoopGroup.singleton)
        defer { prometheus.stop() }
        try await KubernetesAPIClientTests.withServer { server, api in
            KubernetesRolloutTests.putSeedVirtualService(server)
            let lines = NIOLockedValueBox<[String]>([])
            let stop = try await KubernetesRolloutTests.startController(
                api: api, metrics: Self.metrics(defaultPrometheus: prometheus.address), log: { line in lines.withLockedValue { $0.append(line) } }
            )
            do {
                try await body(server, prometheus, lines)
            } catch {
                await stop()
                throw error
            }
            await stop()
        }
    }

    @Test("a Flagger MetricTemplate in the cluster judges the canary: its query's 42 is over the maximum 10, so it rolls back")
    func flaggerTemplateRollsBack() async throws {
        try await Self.withController { server, prometheus, lines in
            let (template, key) = Self.template("flagger.app/v1beta1", query: "vector(42)", prometheus: prometheus.address)
            server.put(template, at: key)
            server.put(Self.canary(threshold: 1), at: KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Failed" }, "\(lines.withLockedValue { $0 })")
            // The status is saved before the log says it.
            let told = await eventually(.seconds(30)) {
                lines.withLockedValue { $0 }.contains { $0.contains("rolled back") && $0.contains("error-budget") && $0.contains("42") }
            }
            #expect(told, "\(lines.withLockedValue { $0 })")
            // The status is saved before traffic moves: the weights follow.
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [100, 0] })
        }
    }

    @Test("a serin.dev MetricTemplate edited with kubectl is used from the next analysis: failing checks stop and the canary is promoted")
    func editedTemplateIsUsedLive() async throws {
        try await Self.withController { server, prometheus, lines in
            let (template, key) = Self.template("serin.dev/v1alpha1", query: "vector(42)", prometheus: prometheus.address)
            server.put(template, at: key)
            server.put(Self.canary(threshold: 20), at: KubernetesRolloutTests.canaryKey)
            let failedChecks = { server.object(KubernetesRolloutTests.canaryKey)?["status"]?["failedChecks"]?.intValue ?? 0 }
            #expect(await eventually(.seconds(60)) { failedChecks() >= 1 }, "\(lines.withLockedValue { $0 })")
            server.edit(key) { object in
                object = (try? object.applying([.replace(path: ["spec", "query"], value: "vector(1)")])) ?? object
            }
            #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Succeeded" }, "\(lines.withLockedValue { $0 })")
            #expect(failedChecks() < 20)
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.weights(server) == [0, 100] })
        }
    }

    @Test("a templateRef with no MetricTemplate in the cluster, or an invalid one, fails checks with the reason and is said in the log")
    func missingOrInvalidTemplate() async throws {
        try await Self.withController { server, prometheus, lines in
            // Flagger's MetricTemplate with a provider Serin does not speak: said once, never used.
            var (template, key) = Self.template("flagger.app/v1beta1", query: "vector(1)", prometheus: prometheus.address)
            template = try template.applying([.replace(path: ["spec", "provider"], value: ["type": "datadog"])])
            server.put(template, at: key)
            server.put(Self.canary(threshold: 1), at: KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(60)) { KubernetesRolloutTests.phase(server) == "Failed" }, "\(lines.withLockedValue { $0 })")
            let told = await eventually(.seconds(30)) {
                lines.withLockedValue { $0 }.contains { $0.contains("rolled back") && $0.contains("no MetricTemplate named default/budget") }
            }
            #expect(told, "\(lines.withLockedValue { $0 })")
            let said = lines.withLockedValue { $0 }.filter { $0.contains("MetricTemplate default/budget is not valid") && $0.contains("datadog") }
            #expect(said.count == 1, "\(lines.withLockedValue { $0 })")
        }
    }
}
