import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Logging
import SerinController
import SerinCore
import SerinKubernetes
import SerinListener
import SerinTesting
import SerinWebhooks
import Testing

/// The controller on Kubernetes, end to end against the API-server double: Canaries come from a watch, the
/// weights move in the cluster's VirtualService, the story lands in the Canary's status and in Events. The
/// same `CanaryController` as embedded mode; only the adapters differ.
@Suite("Rollouts on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesRolloutTests {
    static let vsKey = KubernetesAPIServer.ObjectKey(
        groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "default", name: "web-virtualservice"
    )
    static let canaryKey = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")

    /// These scenarios decide before any analysis: a metrics query would be a bug.
    struct NoAnalysisExpected: MetricProvider {
        func samples(for request: AnalysisRequest) async -> AnalysisSamples {
            Issue.record("no analysis was expected, got one for \(request.canary)")
            return AnalysisSamples()
        }
    }

    static func canary(_ analysis: JSONValue, skipAnalysis: Bool = false, deployment: String? = nil) -> JSONValue {
        var spec: [String: JSONValue] = [
            "targetRef": ["apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "name": "web-virtualservice"],
            "stable": ["host": "web-v1-service", "port": 80], "canary": ["host": "web-v2-service", "port": 80],
            "skipAnalysis": .bool(skipAnalysis), "analysis": analysis,
        ]
        if let deployment { spec["canaryDeployment"] = .string(deployment) }
        return ["apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"], "spec": .object(spec)]
    }

    /// A controller with Kubernetes adapters and its Canary watcher, running until the returned stop is called.
    /// - Parameter metrics: the metric provider, given the cluster's MetricTemplates (which are always watched).
    static func startController(
        api: any KubernetesAPI, metrics: (ClusterMetricTemplates) -> any MetricProvider = { _ in NoAnalysisExpected() },
        workloads: Bool = false, groups: [CanaryGroup] = [.serin],
        logger: Logger
    ) async throws -> @Sendable () async -> Void {
        let store = KubernetesRolloutStore(api: api, groups: groups)
        let templates = ClusterMetricTemplates(api: api, namespace: nil, logger: logger)
        let controller = CanaryController(
            adapters: .init(
                router: KubernetesTrafficRouter(api: api), metrics: metrics(templates), webhooks: HTTPWebhookRunner(),
                store: store, workloads: KubernetesWorkloadReadiness(api: api),
                deployments: workloads ? KubernetesWorkloads(api: api) : NoWorkloads(),
                alerts: HTTPAlertSender(endpoints: ClusterAlertEndpoints(api: api))
            ),
            tickInterval: .milliseconds(50), logger: logger
        )
        try await controller.restore()
        let watcher = CanaryWatcher(
            api: api, namespace: nil, groups: groups, logger: logger, command: CanaryCommandChannel.handler(execute: { await controller.execute($0, canary: $1) }, store: store, logger: logger),
            workloads: workloads ? KubernetesWorkloads(api: api) : nil, configResync: .milliseconds(200),
            refused: { name, namesake, message in try? await store.recordRefusal(message, for: name, namesake: namesake) },
            forgotten: { await controller.forgotten($0) }, revertRetry: .milliseconds(200),
            told: { _, events, canary in try? await store.record(events, about: canary) }
        ) { specs in await controller.reconcile(specs) }
        let running = Task { await controller.run() }
        let watching = Task { await watcher.run() }
        let watchingTemplates = Task { await templates.run() }
        // The watchers stop first, so they never wait on a controller that has stopped.
        return {
            watching.cancel()
            watchingTemplates.cancel()
            await watching.value
            await watchingTemplates.value
            running.cancel()
            await running.value
        }
    }

    static func putSeedVirtualService(_ server: KubernetesAPIServer) {
        server.put(
            [
                "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web-virtualservice"],
                "spec": [
                    "hosts": ["*"], "gateways": ["web-gateway"],
                    "http": [["match": [["uri": ["exact": "/"]]], "route": [["destination": ["host": "web-v1-service", "port": ["number": 80]]]]]],
                ],
            ],
            at: vsKey
        )
    }

    /// The seed's VirtualService (or what `prepare` puts) in the double, and a controller running against it.
    static func withController(
        prepare: (KubernetesAPIServer) -> Void = { putSeedVirtualService($0) },
        metrics: (ClusterMetricTemplates) -> any MetricProvider = { _ in NoAnalysisExpected() }, workloads: Bool = false,
        groups: [CanaryGroup] = [.serin], _ body: (KubernetesAPIServer, LogRecorder) async throws -> Void
    ) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            prepare(server)
            let lines = LogRecorder()
            let stop = try await startController(api: api, metrics: metrics, workloads: workloads, groups: groups, logger: lines.logger())
            do {
                try await body(server, lines)
            } catch {
                await stop()
                throw error
            }
            await stop()
        }
    }

    static func weights(_ server: KubernetesAPIServer) -> [Int] {
        server.object(vsKey)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    static func phase(_ server: KubernetesAPIServer) -> String? {
        server.object(canaryKey)?["status"]?["phase"]?.stringValue
    }

    @Test("a Canary applied while the watch is down is picked up when it resumes, and promoted: weights, status and Events")
    func promotes() async throws {
        try await Self.withController { server, lines in
            // Watching: the Canaries, and MetricTemplates of serin.dev and flagger.app.
            #expect(await eventually(.seconds(20)) { server.watchCount == 3 })
            // The watch drops; the Canary arrives before the controller watches again.
            server.dropWatches()
            server.put(Self.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50]], skipAnalysis: true), at: Self.canaryKey)
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            // The controller saves each decision before it moves traffic: the weights follow the status.
            #expect(await eventually(.seconds(30)) { Self.weights(server) == [0, 100] }, "\(Self.weights(server))")
            let status = server.object(Self.canaryKey)?["status"]
            // As Flagger's Succeeded canary reads: weight 0, the stable (the promoted version) serves all.
            #expect(status?["canaryWeight"] == 0)
            #expect(status?["stable"] == "web-v2-service:80")
            #expect(status?["conditions"]?[0]?["status"] == "True")
            #expect(server.object(Self.canaryKey)?["spec"]?["skipAnalysis"] == true, "the spec is untouched")
            let events = server.requestLog.filter { $0.hasPrefix("POST /api/v1/namespaces/default/events") }
            #expect(!events.isEmpty, "the story is told as Kubernetes Events")
        }
    }

    @Test("a Canary refused as written says why in its status (condition Accepted False) and nothing moves; fixed, it is accepted and runs")
    func refusalIsOnTheCanary() async throws {
        try await Self.withController { server, lines in
            // The seed serves web-v1-service; this Canary says web-v3-service is the stable.
            var canary = Self.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50]], skipAnalysis: true)
            canary = try canary.applying([.replace(path: ["spec", "stable", "host"], value: "web-v3-service")])
            server.put(canary, at: Self.canaryKey)
            let refused = await eventually(.seconds(20)) {
                server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) != nil
            }
            #expect(refused, "\(lines.messages)")
            let message = server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) ?? ""
            #expect(message.contains("web-v3-service"), "names the stable written: \(message)")
            #expect(Self.weights(server) == [], "nothing moved: \(Self.weights(server))")
            #expect(server.object(Self.canaryKey)?["status"]?["phase"] == nil)

            server.edit(Self.canaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "stable", "host"], value: "web-v1-service")])) ?? object
            }
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) == nil, "the refusal is cleared: \(server.object(Self.canaryKey)?["status"] ?? nil) \(server.requestLog.suffix(30))")
        }
    }

    @Test("a Canary with analysis.stickiness is refused before anything moves, saying Istio cannot express it and what to do; without it, it runs")
    func stickinessIsRefused() async throws {
        try await Self.withController { server, lines in
            server.put(
                Self.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50], "stickiness": ["header": "x-user-id"]], skipAnalysis: true),
                at: Self.canaryKey)
            let refused = await eventually(.seconds(20)) {
                server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) != nil
            }
            #expect(refused, "\(lines.messages)")
            let message = server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) ?? ""
            #expect(message == "Canary default/web: analysis.stickiness (header x-user-id) cannot be expressed in Istio: "
                + "Envoy picks the weighted destination before any hash, so a key could move back from canary to stable; "
                + "run this Canary on Serin's gateway (serin up), or remove analysis.stickiness; nothing was changed")
            #expect(lines.messages.contains(message), "the log says it too: \(lines.messages)")
            #expect(Self.weights(server) == [], "nothing moved: \(Self.weights(server))")
            #expect(server.object(Self.canaryKey)?["status"]?["phase"] == nil)
            #expect(!server.requestLog.contains { $0.hasPrefix("PATCH") && $0.contains("virtualservices") }, "the VirtualService was never patched")

            server.edit(Self.canaryKey) { object in
                object = (try? object.applying([.remove(path: ["spec", "analysis", "stickiness"])])) ?? object
            }
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(server.object(Self.canaryKey).flatMap(KubernetesRolloutStore.refusal(in:)) == nil)
        }
    }

    @Test("with Flagger's Canaries asked for in a cluster without Flagger's CRD, Serin's own Canaries still run, and the log says why none of Flagger's")
    func flaggerCRDMissing() async throws {
        try await Self.withController(prepare: { server in
            Self.putSeedVirtualService(server)
            server.uninstall("flagger.app/v1beta1/canaries")
            server.uninstall("flagger.app/v1beta1/metrictemplates")
        }, groups: [.serin, .flagger]) { server, lines in
            server.put(Self.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50]], skipAnalysis: true), at: Self.canaryKey)
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Succeeded" }, "\(lines.messages)")
            #expect(lines.messages.contains { $0.hasPrefix("canaries.flagger.app: not installed in this cluster") })
            // Flagger's MetricTemplates are missing alike: a notice, not a failing watch retried with a warning.
            #expect(lines.messages.contains { $0.hasPrefix("metrictemplates.flagger.app: not installed in this cluster") }, "\(lines.messages)")
            #expect(!lines.messages.contains { $0.contains("watch failed") }, "\(lines.messages)")
        }
    }

    @Test("a failing pre-rollout webhook rolls the canary back: weights return to stable, status Failed with the reason")
    func rollsBack() async throws {
        let hook = try await WebhookServer.start(group: MultiThreadedEventLoopGroup.singleton, status: 500)
        try await Self.withController { server, lines in
            let analysis: JSONValue = [
                "interval": "500ms", "threshold": 2, "stepWeights": [50],
                "webhooks": [["name": "smoke-test", "type": "pre-rollout", "url": .string(hook.url), "timeout": "2s"]],
            ]
            server.put(Self.canary(analysis), at: Self.canaryKey)
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Failed" }, "\(lines.messages)")
            #expect(await eventually(.seconds(30)) { Self.weights(server) == [100, 0] }, "all traffic on stable: \(Self.weights(server))")
            let status = server.object(Self.canaryKey)?["status"]
            #expect(status?["failedChecks"] == 2)
            #expect(status?["conditions"]?[0]?["status"] == "False")
            #expect(hook.calls.count >= 2)
        }
        await hook.close()
    }

    @Test("a Canary whose VirtualService does not exist is never promoted: each refused weight change is a failed check, and it rolls back at the threshold saying why")
    func missingVirtualServiceRollsBack() async throws {
        // Metrics that would pass every check, as a Prometheus with stale series of the canary's could.
        try await Self.withController(prepare: { _ in }, metrics: { _ in ScriptedMetrics(ScriptedMetrics.healthy) }) { server, lines in
            server.put(Self.canary(["interval": "300ms", "threshold": 2, "stepWeights": [50]]), at: Self.canaryKey)
            #expect(await eventually(.seconds(30)) { Self.phase(server) == "Failed" }, "\(lines.messages)")
            #expect(!lines.messages.contains { $0.contains("promot") }, "\(lines.messages)")
            // The log line follows the saved status.
            #expect(await eventually(.seconds(10)) { lines.messages.contains { $0.hasPrefix("web: rolled back: ") } })
            let rolledBack = try #require(lines.messages.first { $0.hasPrefix("web: rolled back: ") }, "\(lines.messages)")
            #expect(rolledBack.contains("VirtualService default/web-virtualservice does not exist"), "\(rolledBack)")
            #expect(server.object(Self.vsKey) == nil, "nothing was created in its place")
        }
    }

    @Test("a controller restarted mid-rollout continues from the Canary's status: the rollout is not started again")
    func restartContinues() async throws {
        let gate = try await WebhookServer.start(group: MultiThreadedEventLoopGroup.singleton, status: 403)
        try await KubernetesAPIClientTests.withServer { server, api in
            Self.putSeedVirtualService(server)
            let lines = LogRecorder()
            let analysis: JSONValue = [
                "interval": "200ms", "threshold": 2, "stepWeights": [50],
                "webhooks": [["name": "release-window", "type": "confirm-rollout", "url": .string(gate.url), "timeout": "2s"]],
            ]
            server.put(Self.canary(analysis, skipAnalysis: true), at: Self.canaryKey)
            // The first controller holds at the closed gate, its state in the status, and stops.
            let stopFirst = try await Self.startController(api: api, logger: lines.logger())
            #expect(await eventually(.seconds(30)) { gate.calls.count >= 2 && Self.phase(server) != nil })
            await stopFirst()
            #expect(Self.weights(server) == [100, 0], "all traffic stays on stable while the gate is closed")
            // A new controller (restarted, or a new leader) reads the status and goes on when the gate opens.
            let stopSecond = try await Self.startController(api: api, logger: lines.logger())
            gate.answer(200)
            #expect(await eventually(.seconds(30)) { Self.weights(server) == [0, 100] }, "\(lines.messages)")
            await stopSecond()
            let all = lines.messages
            #expect(all.filter { $0.contains("rollout started") }.count == 1, "\(all)")
            #expect(Self.phase(server) == "Succeeded")
        }
        await gate.close()
    }

    @Test("no step before the canary Deployment is rolled out: the status says what it waits for, then the weight moves")
    func waitsForTheCanaryDeployment() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            Self.putSeedVirtualService(server)
            let deployment = KubernetesAPIServer.ObjectKey(groupVersion: "apps/v1", resource: "deployments", namespace: "default", name: "web-v2")
            server.put(
                ["metadata": ["name": "web-v2"], "spec": ["replicas": 2], "status": ["observedGeneration": 1, "updatedReplicas": 0, "replicas": 2]],
                at: deployment
            )
            let lines = LogRecorder()
            let stop = try await Self.startController(api: api, metrics: { _ in ScriptedMetrics(ScriptedMetrics.noData) }, logger: lines.logger())
            server.put(Self.canary(["interval": "200ms", "threshold": 2, "stepWeights": [50]], deployment: "web-v2"), at: Self.canaryKey)
            let waiting = "waiting for canary Deployment web-v2: 0 of 2 new replicas have been updated"
            #expect(await lines.eventuallyLogs(waiting, times: 2))
            #expect(Self.weights(server) == [100, 0], "no canary traffic while the Deployment rolls out")
            server.edit(deployment) { object in
                object = (try? object.applying([
                    .replace(path: ["status"], value: ["observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2]),
                ])) ?? object
            }
            #expect(await eventually(.seconds(30)) { Self.weights(server) == [50, 50] }, "\(lines.messages)")
            await stop()
        }
    }
}
