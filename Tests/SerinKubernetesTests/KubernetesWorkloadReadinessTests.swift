import SerinController
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// When the canary Deployment counts as rolled out: `kubectl rollout status`'s rules, read from the API.
@Suite("Canary Deployment readiness")
struct KubernetesWorkloadReadinessTests {
    static func deployment(generation: Int = 2, replicas: Int = 2, status: JSONValue) -> JSONValue {
        ["metadata": ["name": "web-v2", "generation": .number(Double(generation))], "spec": ["replicas": .number(Double(replicas))], "status": status]
    }

    @Test(
        "ready only when the latest spec is observed and every replica is updated and available; past its progress deadline, stalled",
        arguments: [
            (["observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2], false, "the Deployment's latest spec is not observed yet"),
            (["observedGeneration": 2, "updatedReplicas": 1, "replicas": 2, "availableReplicas": 2], false, "1 of 2 new replicas have been updated"),
            (["observedGeneration": 2, "updatedReplicas": 2, "replicas": 3, "availableReplicas": 2], false, "1 old replicas are pending termination"),
            (["observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1], false, "1 of 2 updated replicas are available"),
            (
                ["observedGeneration": 2, "updatedReplicas": 1, "conditions": [["type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"]]],
                false, "its rollout exceeded its progress deadline"
            ),
            (["observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2], true, "2 of 2 replicas available"),
        ] as [(JSONValue, Bool, String)]
    )
    func rolloutStatus(status: JSONValue, ready: Bool, reason: String) {
        // Only a rollout past its deadline is stalled: waiting will not make it ready.
        let stalled = reason == "its rollout exceeded its progress deadline"
        #expect(KubernetesWorkloadReadiness.state(of: Self.deployment(status: status)) == WorkloadState(ready: ready, reason: reason, stalled: stalled))
    }

    @Test("read through the API: a missing Deployment is not ready and says so")
    func throughTheAPI() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let readiness = KubernetesWorkloadReadiness(api: api)
            let name = ResourceName(namespace: "default", name: "web-v2")
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: false, reason: "Deployment default/web-v2 does not exist"))
            let key = KubernetesAPIServer.ObjectKey(groupVersion: "apps/v1", resource: "deployments", namespace: "default", name: "web-v2")
            server.put(["metadata": ["name": "web-v2"], "spec": ["replicas": 1], "status": ["observedGeneration": 1, "updatedReplicas": 1, "replicas": 1, "availableReplicas": 1]], at: key)
            #expect(await readiness.readiness(of: name).ready)
        }
    }

    @Test(
        "with a ready threshold, 3 of 4 available replicas are enough at 75% (and at 99%, rounded down as Flagger counts) but not at 100%, and 2 of 4 not at 75%",
        arguments: [
            (3, 75, true, "3 of 4 replicas available, 3 needed (ready threshold 75%)"),
            (3, 99, true, "3 of 4 replicas available, 3 needed (ready threshold 99%)"),
            (3, 100, false, "3 of 4 updated replicas are available"),
            (2, 75, false, "2 of 4 updated replicas are available, 3 needed (ready threshold 75%)"),
        ]
    )
    func readyThreshold(available: Int, percent: Int, ready: Bool, reason: String) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let key = KubernetesAPIServer.ObjectKey(groupVersion: "apps/v1", resource: "deployments", namespace: "default", name: "web-v2")
            let status: JSONValue = ["observedGeneration": 1, "updatedReplicas": 4, "replicas": 4, "availableReplicas": .number(Double(available))]
            server.put(Self.deployment(generation: 1, replicas: 4, status: status), at: key)
            let state = await KubernetesWorkloadReadiness(api: api).readiness(of: ResourceName(namespace: "default", name: "web-v2"), readyThreshold: percent)
            #expect(state == WorkloadState(ready: ready, reason: reason))
        }
    }

    @Test("a ready threshold lowers only the share of available replicas: a rollout still in progress is not ready even at 0%")
    func readyThresholdKeepsRolloutRules() {
        let midRollout = Self.deployment(replicas: 4, status: ["observedGeneration": 2, "updatedReplicas": 3, "replicas": 4, "availableReplicas": 4])
        #expect(KubernetesWorkloadReadiness.state(of: midRollout, readyThreshold: 0) == WorkloadState(ready: false, reason: "3 of 4 new replicas have been updated"))
        let noneAvailable = Self.deployment(replicas: 4, status: ["observedGeneration": 2, "updatedReplicas": 4, "replicas": 4, "availableReplicas": 0])
        #expect(KubernetesWorkloadReadiness.state(of: noneAvailable, readyThreshold: 0).ready)
    }
}
