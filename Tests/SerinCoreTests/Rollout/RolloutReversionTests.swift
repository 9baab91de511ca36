import SerinCore
import SerinTesting
import Testing

/// Flagger's `revertOnDeletion`: what a deleted Canary's rollout puts back (`Rollout.reversion`).
@Suite("Reversion on deletion")
struct RolloutReversionTests {
    static let name = ResourceName(name: "web")
    static let start = RolloutInstant(sinceEpoch: .seconds(1_000))

    @Test("mid-rollout, every request goes back to the stable")
    func midRolloutGoesBackToTheStable() throws {
        let rollout = try RolloutFixture.midRollout(Self.name, start: Self.start).rollout
        #expect(rollout.status.canaryWeight == 50)
        let reversion = try #require(rollout.reversion)
        #expect(reversion.split.stable == WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 100))
        #expect(reversion.split.canary.weight == 0)
        #expect(reversion.scaling == nil)
    }

    @Test("once promoted, the version the traffic was handed to keeps it all")
    func promotedKeepsServing() throws {
        let rollout = try RolloutFixture.promoted(Self.name, start: Self.start)
        let reversion = try #require(rollout.reversion)
        #expect(reversion.split.canary == WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 100))
        #expect(reversion.split.stable.weight == 0)
        #expect(reversion.split == rollout.split, "a finished promotion's routes are already so")
    }

    @Test("a rollout that never took the routes over puts nothing back")
    func notStartedPutsNothingBack() throws {
        #expect(try RolloutFixture.rollout(Self.name).reversion == nil)
    }

    @Test("on a Deployment mid-release, the primary takes every request and the target is scaled back up like it")
    func workloadScalesTheTargetLikeThePrimary() throws {
        let driver = try RolloutWorkloadTests.releasingR2()
        #expect(driver.rollout.status.canaryWeight == 10)
        let reversion = try #require(driver.rollout.reversion)
        #expect(reversion.split.stable == WeightedDestination(destination: Destination(host: "podinfo-primary", port: 9898), weight: 100))
        #expect(reversion.scaling == WorkloadScaling(
            target: RolloutWorkloadTests.target, primary: RolloutWorkloadTests.primary, size: .likePrimary))
    }
}
