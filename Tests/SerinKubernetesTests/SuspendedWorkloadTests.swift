import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

extension KubernetesWorkloadRolloutTests {
    @Test("a suspended Flagger Canary on first sight creates nothing and scales nothing; set to suspend: false it initializes")
    func suspendedCanaryCreatesNothingUntilUnsuspended() async throws {
        let suspended = try Self.flaggerCanary.applying([.add(path: ["spec", "suspend"], value: true)])
        try await Self.withWorkloadController { server, lines in
            server.put(suspended, at: Self.flaggerCanaryKey)
            // The controller has seen it once its rollout is stored on the Canary, saying why nothing started.
            #expect(await eventually(.seconds(20)) {
                CanaryGroup.flagger.state(in: server.object(Self.flaggerCanaryKey) ?? [:])?.contains("spec.suspend is true") == true
            }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Self.phase(server, Self.flaggerCanaryKey) == "Initializing" })
            // A few of its 300ms intervals later, still nothing of the Canary's exists and the target keeps its pods.
            try await Task.sleep(for: .seconds(1))
            for owned in [Self.primary, Self.virtualService, Self.primaryHPA] + Self.services {
                #expect(server.object(owned) == nil, "\(owned) was created for a suspended Canary")
            }
            #expect(Self.replicas(server, Self.target) == 2)

            _ = server.edit(Self.flaggerCanaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "suspend"], value: false)])) ?? object
            }
            // First sight, now: the primary serves the target's template and the target is scaled to zero.
            #expect(await eventually(.seconds(20)) { Self.replicas(server, Self.target) == 0 }, "\(lines.messages)")
            #expect(server.object(Self.primary) != nil && server.object(Self.virtualService) != nil)
            #expect(Self.weights(server) == [100, 0])
            #expect(await eventually(.seconds(10)) { Self.phase(server, Self.flaggerCanaryKey) == "Initialized" })
        }
    }
}
