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
        "ready only when the latest spec is observed and every replica is updated and available",
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
        #expect(KubernetesWorkloadReadiness.state(of: Self.deployment(status: status)) == WorkloadState(ready: ready, reason: reason))
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
}
