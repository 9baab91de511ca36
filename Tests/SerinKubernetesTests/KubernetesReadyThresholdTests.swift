import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// Flagger's `analysis.canaryReadyThreshold` and `primaryReadyThreshold`, end to end against the API-server double:
/// the share of a Deployment's updated replicas that must be available before the canary takes a step and before
/// traffic returns to the promoted primary.
@Suite("Flagger's ready thresholds on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesReadyThresholdTests {
    typealias Workload = KubernetesWorkloadRolloutTests
    static let newImage = "ghcr.io/stefanprodan/podinfo:6.0.1"

    /// Flagger's podinfo Canary (stepWeight 30, maxWeight 50: steps to 30 and 50, then promotion) without an autoscaler, whose
    /// capacity rule would count replicas of its own, with both thresholds at `percent` when written.
    static func canary(readyThreshold percent: Int?) -> JSONValue {
        guard case .object(var canary) = Workload.flaggerCanary, case .object(var spec)? = canary["spec"],
            case .object(var analysis)? = spec["analysis"]
        else { return Workload.flaggerCanary }
        spec["autoscalerRef"] = nil
        if let percent {
            analysis["canaryReadyThreshold"] = .number(Double(percent))
            analysis["primaryReadyThreshold"] = .number(Double(percent))
        }
        spec["analysis"] = .object(analysis)
        canary["spec"] = .object(spec)
        return .object(canary)
    }

    /// The Deployment at `key` as its controller reports it once its latest spec is rolled out but only `available`
    /// of its replicas are available (and ready).
    static func partlyAvailable(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey, available: Int) {
        server.edit(key) { object in
            guard case .object(var fields) = object else { return }
            let replicas = object["spec"]?["replicas"] ?? 1
            fields["status"] = [
                "observedGeneration": object["metadata"]?["generation"] ?? 1, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": .number(Double(available)), "availableReplicas": .number(Double(available)),
            ]
            object = .object(fields)
        }
    }

    /// What the Canary's status says now (Flagger's status carries it in its `Promoted` condition).
    static func message(_ server: KubernetesAPIServer) -> String {
        server.object(Workload.flaggerCanaryKey)?["status"]?["conditions"]?[0]?["message"]?.stringValue ?? ""
    }

    /// Three intervals in which the rollout holds at `weights`, its status saying `waiting`.
    static func holds(_ server: KubernetesAPIServer, at weights: [Int], saying waiting: String) async throws {
        #expect(await eventually(.seconds(10)) { message(server).contains(waiting) }, "\(message(server))")
        for _ in 0..<3 {
            try await Task.sleep(for: .milliseconds(300))
            #expect(Workload.weights(server) == weights)
        }
    }

    @Test(
        "with both thresholds at 50, 1 of 2 available replicas lets the canary take its step and traffic return to the primary; at Flagger's default 100 each waits for both",
        arguments: [nil, 50] as [Int?])
    func readyThresholds(percent: Int?) async throws {
        try await Workload.withWorkloadController { server, lines in
            server.put(Self.canary(readyThreshold: percent), at: Workload.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
            // From now on new pods come up only as the test says: one of the canary's two.
            server.holdDeploymentRollouts()
            Workload.setImage(server, Self.newImage)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 2 }, "\(lines.messages)")
            Self.partlyAvailable(server, Workload.target, available: 1)
            if percent == nil {
                try await Self.holds(server, at: [100, 0], saying: "waiting for canary Deployment podinfo: 1 of 2 updated replicas are available")
                Self.partlyAvailable(server, Workload.target, available: 2)
            }
            #expect(await eventually(.seconds(20)) { Workload.weights(server) == [70, 30] }, "\(lines.messages)")

            // Promoted: the primary rolls the new template out, and one of its two pods comes up; the canary keeps its
            // share until the primary counts as ready.
            #expect(await eventually(.seconds(20)) { Workload.image(server, Workload.primary) == Self.newImage }, "\(lines.messages)")
            Self.partlyAvailable(server, Workload.primary, available: 1)
            if percent == nil {
                try await Self.holds(server, at: [50, 50], saying: "waiting for podinfo-primary: 1 of 2 updated replicas are available")
                Self.partlyAvailable(server, Workload.primary, available: 2)
            }
            #expect(await eventually(.seconds(20)) { Workload.phase(server, Workload.flaggerCanaryKey) == "Succeeded" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Workload.weights(server) == [100, 0] })
        }
    }

    @Test("a primary short of a pod holds the release's step with the canary ready, saying which Deployment waits, until it is available again, as Flagger halts")
    func primaryReadinessHoldsTheStep() async throws {
        try await Workload.withWorkloadController { server, lines in
            server.put(Self.canary(readyThreshold: nil), at: Workload.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
            server.holdDeploymentRollouts()
            // One of the primary's two pods is gone before the release starts, and stays gone while the canary's both come up.
            Self.partlyAvailable(server, Workload.primary, available: 1)
            Workload.setImage(server, Self.newImage)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 2 }, "\(lines.messages)")
            Self.partlyAvailable(server, Workload.target, available: 2)
            try await Self.holds(server, at: [100, 0], saying: "waiting for primary Deployment podinfo-primary: 1 of 2 updated replicas are available")
            Self.partlyAvailable(server, Workload.primary, available: 2)
            #expect(await eventually(.seconds(20)) { Workload.weights(server) == [70, 30] }, "\(lines.messages)")
        }
    }
}
