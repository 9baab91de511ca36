import SerinCore
import Testing

@Suite("Rollout spec changes")
struct RolloutSpecChangeTests {
    @Test("a new canary mid-rollout restarts at the first step with the new canary")
    func newCanaryRestarts() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30], threshold: 3))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "slow"))
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.stepIndex == 1)
        #expect(driver.rollout.status.failedChecks == 1)

        let newSpec = try Fixture.spec(weights: [10, 20, 30], threshold: 3, canary: Fixture.nextCanary)
        let outcome = driver.send { $0.specChanged(newSpec, now: t(70)) }
        // One weight change takes v2 out of the route and puts v3 in at 0%: v1 never loses its share in between.
        // The release's start is said before its weights; the step's weight after them (logged once the router applied them).
        #expect(outcome.actions == [
            .record(RolloutEvent(instant: t(70), severity: .normal,
                                 message: "web: canary changed to web-v3-service, releasing it against web-v1-service from the first step")),
            .setWeights(stable: WeightedDestination(destination: Fixture.stable, weight: 100),
                        canary: WeightedDestination(destination: Fixture.nextCanary, weight: 0)),
            .setWeights(stable: WeightedDestination(destination: Fixture.stable, weight: 90),
                        canary: WeightedDestination(destination: Fixture.nextCanary, weight: 10)),
            .record(RolloutEvent(instant: t(70), severity: .normal, message: "web: advance canary weight to 10%")),
        ])
        #expect(driver.rollout.status.canary == Fixture.nextCanary)
        #expect(driver.rollout.status.stepIndex == 0)
        #expect(driver.rollout.status.failedChecks == 0)
        #expect(driver.rollout.status.iteration == 0)
        #expect(driver.rollout.spec == newSpec)
        driver.tick(100)
        #expect(driver.log.analysisRequests.last?.canary == Fixture.nextCanary)
    }

    @Test("a request in flight when the canary changes is stale afterwards")
    func inFlightBecomesStale() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.confirmRollout)]))
        driver.start(0)
        let old = try #require(driver.log.webhookRuns.last)
        driver.send { $0.specChanged(try! Fixture.spec(webhooks: [Fixture.hook(.confirmRollout)], canary: Fixture.nextCanary), now: t(1)) }
        #expect(driver.send { $0.webhookCompleted(ticket: old.ticket, result: .passed, now: t(2)) } == .rejected(.staleResult(old.ticket)))
        try driver.answer(.confirmRollout, .passed, 3)
        #expect(driver.rollout.status.canaryWeight == 10)
    }

    @Test("changes that are not a new revision are adopted in place", arguments: [
        (5, Duration.seconds(30), false), (2, .seconds(45), false), (2, .seconds(30), true),
    ])
    func analysisOnlyChange(threshold: Int, interval: Duration, samePolicy: Bool) throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30], threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        var newSpec = try Fixture.spec(weights: [10, 20, 30], threshold: threshold, interval: interval)
        if samePolicy { newSpec.analysis.metrics = [.requestSuccessRate(min: 95)] }
        #expect(!driver.rollout.spec.isNewRevision(comparedTo: newSpec))
        let outcome = driver.send { $0.specChanged(newSpec, now: t(40)) }
        #expect(outcome.actions.messages == ["web: analysis settings updated"])
        #expect(outcome.actions.canaryWeights.isEmpty)
        #expect(driver.rollout.status.stepIndex == 1)
        #expect(driver.rollout.spec == newSpec)
    }

    @Test("a shorter interval brings the next check within it; a shorter deadline counts from the change, so no rollback comes before a check under it")
    func intervalAndDeadlineCountFromTheChange() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30], threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.nextCheckAt == t(60))
        // At t(40): a check every 5 s, and 20 s without progress ends it (the last progress was at t(30)).
        let newSpec = try Fixture.spec(weights: [10, 20, 30], interval: .seconds(5), deadline: .seconds(20))
        driver.send { $0.specChanged(newSpec, now: t(40)) }
        #expect(driver.rollout.status.nextCheckAt == t(45))
        driver.tick(51)
        #expect(driver.rollout.status.phase == .progressing, "the new deadline counts from t(40), not from t(30)")
        #expect(driver.log.analysisRequests.count == 2, "the check due at t(45) was asked for")
    }

    @Test("what counts as a new revision", arguments: [
        // A written stable only confirms what serves; changing it never starts a release.
        ("canary", true), ("stable", false), ("target", true), ("schedule", true), ("threshold", false), ("hooks", false), ("skip", false),
    ])
    func newRevision(field: String, expected: Bool) throws {
        let spec = try Fixture.spec()
        var other = spec
        switch field {
        case "canary": other.canary = Fixture.nextCanary
        case "stable": other.stable = Destination(host: "web-v0-service")
        case "target": other.targetRef = ResourceName(namespace: "shop", name: "other-vs")
        case "schedule": other.analysis.schedule = try WeightSchedule(stepWeight: 5, maxWeight: 50)
        case "threshold": other.analysis.threshold = 9
        case "hooks": other.analysis.webhooks = [Fixture.hook(.event)]
        default: other.skipAnalysis = true
        }
        #expect(spec.isNewRevision(comparedTo: other) == expected)
    }

    @Test("a new canary while paused restarts but stays paused until resumed")
    func newCanaryWhilePaused() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        try driver.completeInterval(with: .pass)
        driver.send { $0.pause(now: t(40)) }
        driver.send { $0.specChanged(try! Fixture.spec(canary: Fixture.nextCanary), now: t(50)) }
        #expect(driver.rollout.status.phase == .paused)
        #expect(driver.rollout.status.canaryWeight == 0)
        #expect(driver.rollout.status.canary == Fixture.nextCanary)
        driver.tick(500)
        #expect(driver.rollout.status.canaryWeight == 0)
        driver.send { $0.resume(now: t(600)) }
        #expect(driver.rollout.status.phase == .progressing)
        #expect(driver.rollout.status.canaryWeight == 10)
        #expect(driver.rollout.status.stepIndex == 0)
    }

    @Test("an invalid spec is refused and the rollout keeps its old one")
    func invalidSpec() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        let before = driver.rollout
        var bad = try Fixture.spec(canary: Fixture.nextCanary)
        bad.analysis.threshold = 0
        let outcome = driver.send { $0.specChanged(bad, now: t(5)) }
        #expect(outcome == .rejected(.invalidSpec(CanarySpecError(problems: [
            .init(field: "analysis.threshold", message: "is 0, expected at least 1"),
        ]))))
        #expect(driver.rollout == before)
    }

    @Test("an unchanged spec does nothing")
    func unchangedSpec() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        let before = driver.rollout
        #expect(driver.send { $0.specChanged(try! Fixture.spec(), now: t(5)) } == .accepted([]))
        #expect(driver.rollout == before)
    }

    @Test("a finished or unstarted rollout adopts a new spec and rolls it out only on `rollout`", arguments: [
        RolloutPhase.initialized, .succeeded, .failed,
    ])
    func adoptWhenIdle(phase: RolloutPhase) throws {
        var driver = Driver(try Fixture.rollout())
        if phase != .initialized {
            driver.start(0)
            driver.send { phase == .succeeded ? $0.promote(now: t(1)) : $0.abort(now: t(1)) }
        }
        // After a promotion v2 serves, so the next spec names no stable (or v2).
        var next = try Fixture.spec(canary: Fixture.nextCanary)
        if phase == .succeeded { next.stable = nil }
        let outcome = driver.send { $0.specChanged(next, now: t(5)) }
        #expect(outcome == .accepted([]))
        #expect(driver.rollout.status.phase == phase)
        driver.send { $0.restart(now: t(6)) }
        #expect(driver.rollout.status.canary == Fixture.nextCanary)
        #expect(driver.rollout.status.stable == (phase == .succeeded ? Fixture.canary : Fixture.stable))
        #expect(driver.rollout.status.canaryWeight == 10)
    }
}
