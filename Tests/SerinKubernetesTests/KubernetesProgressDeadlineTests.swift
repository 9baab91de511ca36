import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// A Deployment whose rollout is past its own progress deadline (`Progressing` False, `ProgressDeadlineExceeded`) will
/// not become ready by waiting: as Flagger, the controller acts at once rather than after the Canary's 60 s
/// `progressDeadlineSeconds`. A stalled canary rolls back; a primary stalled on the promoted revision fails the
/// promotion with all traffic on the canary, the one copy known to serve it.
@Suite("Kubernetes progress deadlines", .timeLimit(.minutes(2)))
struct KubernetesProgressDeadlineTests {
    typealias Workload = KubernetesWorkloadRolloutTests
    typealias Thresholds = KubernetesReadyThresholdTests
    static let newImage = "ghcr.io/stefanprodan/podinfo:6.0.1"

    /// Flagger's podinfo Canary at first sight, then a new image, with Deployment rollouts held from then on: the
    /// target scaled up to two replicas that are not ready yet.
    static func releaseWithHeldRollouts(_ server: KubernetesAPIServer, _ lines: LogRecorder) async throws {
        server.put(Thresholds.canary(readyThreshold: nil), at: Workload.flaggerCanaryKey)
        #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
        server.holdDeploymentRollouts()
        Workload.setImage(server, newImage)
        #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 2 }, "\(lines.messages)")
    }

    @Test("a canary Deployment past its progress deadline rolls the release back at once: all traffic on the primary, the target scaled to zero")
    func stalledCanaryRollsBack() async throws {
        try await Workload.withWorkloadController { server, lines in
            try await Self.releaseWithHeldRollouts(server, lines)
            #expect(await eventually(.seconds(10)) { Thresholds.message(server).contains("waiting for canary Deployment podinfo") }, "\(Thresholds.message(server))")
            server.failDeploymentRollout(Workload.target)

            #expect(await eventually(.seconds(10)) { Workload.phase(server, Workload.flaggerCanaryKey) == "Failed" }, "\(lines.messages)")
            #expect(Thresholds.message(server).contains("canary Deployment podinfo is not ready: its rollout exceeded its progress deadline"), "\(Thresholds.message(server))")
            #expect(Workload.weights(server) == [100, 0])
            #expect(await eventually(.seconds(10)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
        }
    }

    @Test("a primary past its progress deadline on the promoted revision fails the promotion: all traffic on the canary, whose pods stay, the primary's never back")
    func stalledPrimaryFailsThePromotion() async throws {
        try await Workload.withWorkloadController { server, lines in
            // The canary's pods come up as the test says, and its steps pass; then the primary is given the new
            // template, and its rollout is held and fails.
            try await Self.releaseWithHeldRollouts(server, lines)
            Thresholds.partlyAvailable(server, Workload.target, available: 2)
            #expect(await eventually(.seconds(20)) { Workload.image(server, Workload.primary) == Self.newImage }, "\(lines.messages)")
            #expect(Workload.phase(server, Workload.flaggerCanaryKey) == "Promoting")
            server.failDeploymentRollout(Workload.primary)

            #expect(await eventually(.seconds(10)) { Workload.phase(server, Workload.flaggerCanaryKey) == "Failed" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Workload.weights(server) == [0, 100] }, "\(lines.messages)")
            // Its last word, once the VirtualService carries those weights, says where the traffic is.
            #expect(await eventually(.seconds(10)) { Thresholds.message(server).contains("; all traffic on podinfo, which serves revision") })
            let message = Thresholds.message(server)
            #expect(message.contains("promotion failed: podinfo-primary is not ready: its rollout exceeded its progress deadline"), "\(message)")
            // The canary is what serves now: its pods stay, and nothing moves traffic back to the primary.
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(300))
                #expect(Workload.replicas(server, Workload.target) == 2)
                #expect(Workload.weights(server) == [0, 100])
            }
        }
    }
}
