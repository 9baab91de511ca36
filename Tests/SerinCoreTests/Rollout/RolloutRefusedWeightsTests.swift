import Foundation
import SerinCore
import Testing

/// What a rollout makes of weights its router could not set: it never passes a step whose weights never reached
/// the routes, so a canary that took no traffic is never promoted.
@Suite("Rollout with weights the router refused")
struct RolloutRefusedWeightsTests {
    @Test("a refused step is a failed check; its next pass sets the weights again instead of advancing; the pass after that advances")
    func refusedStepIsRetried() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 3))
        driver.start(0)
        let refused = driver.rollout.split
        #expect(refused.canary.weight == 10)
        let outcome = driver.send { $0.weightsFailed(refused, reason: "VirtualService shop/web does not exist", now: t(1)) }
        #expect(outcome == .accepted([
            .record(RolloutEvent(instant: t(1), severity: .warning,
                                 message: "web: halt: cannot set weights 90/10: VirtualService shop/web does not exist (1/3 failed checks)")),
        ]))
        #expect(driver.rollout.status.failedChecks == 1)
        #expect(driver.rollout.status.holdReason == "cannot set weights 90/10: VirtualService shop/web does not exist")
        // Its state survives a restart: the step is still owed its weights.
        driver.rollout = try driver.storedAndRestored()
        let at = try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 10, "not advanced")
        #expect(driver.log.suffix(2) == [
            .setWeights(refused),
            .record(RolloutEvent(instant: t(at), severity: .normal, message: "web: setting weights 90/10 again before passing the step")),
        ])
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50, "the weights held: the step passed")
        #expect(driver.rollout.status.failedChecks == 1)
    }

    @Test("a step's weights refused as a restart's first routes withhold them and again as the restore sends them are one failed check, not a rollback at once")
    func refusalAtRestartCountedOnce() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 2))
        driver.start(0)
        let split = driver.rollout.split
        driver.rollout = try driver.storedAndRestored()
        driver.send { $0.weightsFailed(split, reason: "web-v2-service has no endpoints", now: t(5)) }
        driver.send { $0.restored(now: t(5)) }
        #expect(driver.log.last == .setWeights(split), "the restore puts the step's weights back")
        driver.send { $0.weightsFailed(split, reason: "web-v2-service has no endpoints", now: t(5)) }
        #expect(driver.rollout.status.failedChecks == 1)
        #expect(driver.rollout.status.phase == .progressing, "\(driver.log.messages)")
        #expect(driver.log.messages.last == "web: cannot set weights 90/10: web-v2-service has no endpoints")
        // The next check is the step's second chance: it sets the weights again instead of advancing.
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 10)
        #expect(driver.rollout.status.failedChecks == 1)
    }

    @Test("a check that holds for want of requests (the canary took none: its weights were refused) sets them again; once they hold the next pass advances")
    func refusedStepRetriedOnHold() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 3))
        driver.start(0)
        let refused = driver.rollout.split
        driver.send { $0.weightsFailed(refused, reason: "web-v4-service has no endpoints", now: t(1)) }
        let before = driver.log.count
        try driver.completeInterval(with: .inconclusive(reason: "0 requests < 10 minimum"))
        #expect(driver.log[before...].contains(.setWeights(refused)), "\(driver.log[before...])")
        #expect(driver.rollout.status.canaryWeight == 10)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50, "sent again and not refused: the step passed")
    }

    @Test("a rollback whose weights the router refused ends Failed without saying all traffic is on stable: it says the router refused them")
    func refusedRollbackIsNotSaidToServe() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.postRollout)]))
        driver.start(0)
        driver.send { $0.abort(now: t(10)) }
        #expect(driver.rollout.status.phase == .rollingBack)
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(11)) }
        try driver.answer(.postRollout, .passed, 12)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.events.last?.message
            == "web: rollout failed: abort requested; the router refused weights 100/0, so not all traffic is on stable web-v1-service yet",
            "\(driver.log.messages)")
        #expect(!driver.log.messages.contains { $0.contains("all traffic on stable") }, "\(driver.log.messages)")
    }

    @Test("a rollback with no post-rollout hooks says all traffic is on stable only once the router applied its weights, also after a restart")
    func rollbackSaysStableOnceApplied() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.abort(now: t(10)) }
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.events.last?.message == "web: rolled back: abort requested")
        #expect(driver.rollout.awaitsAppliedWeights)
        // A restart before the router answered sets the weights again; their answer still owes the last word.
        driver.rollout = try driver.storedAndRestored()
        driver.send { $0.restored(now: t(11)) }
        #expect(driver.log.last == .setWeights(driver.rollout.split))
        driver.send { $0.weightsApplied($0.split, now: t(12)) }
        #expect(driver.log.events.last == RolloutEvent(
            instant: t(12), severity: .warning, message: "web: rollout failed: abort requested; all traffic on stable web-v1-service"))
        #expect(!driver.rollout.awaitsAppliedWeights)
        #expect(driver.send { $0.weightsApplied($0.split, now: t(13)) } == .accepted([]), "said once")
    }

    @Test("a rollback with no post-rollout hooks whose weights the router refuses ends saying so, never that all traffic is on stable")
    func refusedRollbackWithoutHooksIsNotSaidToServe() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.abort(now: t(10)) }
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(10)) }
        #expect(driver.log.events.suffix(3).map(\.message) == [
            "web: rolled back: abort requested",
            "web: cannot set weights 100/0: the API server said no",
            "web: rollout failed: abort requested; the router refused weights 100/0, so not all traffic is on stable web-v1-service yet",
        ])
        #expect(!driver.log.messages.contains { $0.contains("all traffic on stable") }, "\(driver.log.messages)")
        // Applied later: the weights are said to serve, the last word is not said again.
        driver.send { $0.weightsApplied($0.split, now: t(20)) }
        #expect(driver.log.events.last?.message == "web: weights 100/0 applied")
        #expect(driver.log.messages.count { $0.contains("rollout failed") } == 1)
    }

    @Test("a promotion with no post-rollout hooks says it completed only once the router applied its weights, also after a restart")
    func promotionCompletesOnceApplied() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        try driver.completeInterval(with: .pass)
        let at = try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.log.events.last?.message == "web: all steps passed, promoting canary web-v2-service to 100%")
        #expect(driver.rollout.awaitsAppliedWeights)
        // A restart before the router answered sets the weights again; their answer still owes the last word.
        driver.rollout = try driver.storedAndRestored()
        driver.send { $0.restored(now: t(at + 1)) }
        #expect(driver.log.last == .setWeights(driver.rollout.split))
        driver.send { $0.weightsApplied($0.split, now: t(at + 2)) }
        #expect(driver.log.events.last == RolloutEvent(
            instant: t(at + 2), severity: .normal, message: "web: promotion completed: all traffic on canary web-v2-service"))
        #expect(!driver.rollout.awaitsAppliedWeights)
        #expect(driver.send { $0.weightsApplied($0.split, now: t(at + 3)) } == .accepted([]), "said once")
    }

    @Test(
        "a promotion whose weights the router refuses says so, never that it completed, until they are applied: with or without post-rollout hooks",
        arguments: [false, true]
    )
    func refusedPromotionIsNotSaidCompleted(hooks: Bool) throws {
        var driver = Driver(try Fixture.rollout(webhooks: hooks ? [Fixture.hook(.postRollout)] : []))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        let at = try driver.completeInterval(with: .pass)
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(at)) }
        if hooks { try driver.answer(.postRollout, .passed, at + 1) }
        #expect(driver.rollout.status.phase == .succeeded)
        let refused = "web: promotion not completed: the router refused weights 0/100, so not all traffic is on canary web-v2-service yet"
        #expect(driver.log.events.suffix(2).map(\.message) == ["web: cannot set weights 0/100: the API server said no", refused])
        #expect(driver.log.events.last?.severity == .warning)
        #expect(!driver.log.messages.contains { $0.contains("promotion completed") || $0.contains("all traffic on canary") },
                "\(driver.log.messages)")
        // Refused again (sent again after a restart, say): the warning, not the last word again.
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(at + 5)) }
        #expect(driver.log.messages.count { $0 == refused } == 1)
        // Applied later: the promotion completes, said once.
        #expect(driver.rollout.awaitsRefusedWeights)
        driver.send { $0.weightsApplied($0.split, now: t(at + 10)) }
        #expect(driver.log.events.last == RolloutEvent(
            instant: t(at + 10), severity: .normal, message: "web: promotion completed: all traffic on canary web-v2-service"))
        #expect(!driver.rollout.awaitsAppliedWeights)
        #expect(driver.send { $0.weightsApplied($0.split, now: t(at + 11)) } == .accepted([]))
    }

    @Test("in Flagger's shape the promotion's last word names the primary, which serves the promoted revision, once its weights are applied; refused, the primary does not have all traffic yet")
    func primaryHandoverWaitsForTheRouter() throws {
        var driver = try Self.handedOverR2()
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.rollout.split.stable == WeightedDestination(destination: Destination(host: "podinfo-primary", port: 9898), weight: 100))
        #expect(driver.log.events.last?.message == "podinfo: podinfo-primary serves revision r2: routing all traffic to it, scaling podinfo to zero")
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(80)) }
        #expect(driver.log.events.last?.message
            == "podinfo: promotion not completed: the router refused weights 100/0, so not all traffic is on podinfo-primary yet")
        let applied = driver.send { $0.weightsApplied($0.split, now: t(90)) }
        #expect(driver.log.events.last?.message == "podinfo: promotion completed: all traffic on podinfo-primary, which serves revision r2")
        #expect(!driver.log.messages.contains { $0.contains("all traffic on canary") || $0.contains("all traffic on it") }, "\(driver.log.messages)")
        // The controller held back the target's scale-down while its traffic was not taken away; it is asked for now.
        #expect(Self.scalesToZero(applied) == ["podinfo"])
    }

    @Test("in Flagger's shape the target is scaled to zero after a handover or a rollback only once the weights taking its traffic away are applied, and once")
    func scaleDownFollowsAppliedWeights() throws {
        // A handover whose weights serve at once: the scale-down goes out with them, and applying them asks nothing more.
        var promoted = try Self.handedOverR2()
        #expect(promoted.rollout.status.phase == .succeeded)
        #expect(Self.scalesToZero(promoted.send { $0.weightsApplied($0.split, now: t(81)) }).isEmpty)

        // A rollback whose weights are refused: the scale-down waits for them.
        var rolledBack = try RolloutWorkloadTests.releasingR2()
        rolledBack.send { $0.abort(now: t(70)) }
        #expect(rolledBack.rollout.status.phase == .failed)
        #expect(rolledBack.rollout.split.canary.weight == 0)
        rolledBack.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(70)) }
        #expect(Self.scalesToZero(rolledBack.send { $0.weightsApplied($0.split, now: t(75)) }) == ["podinfo"])
        #expect(Self.scalesToZero(rolledBack.send { $0.weightsApplied($0.split, now: t(76)) }).isEmpty, "asked once")
    }

    /// Flagger's shape: revision r2 passed both steps, and the primary, serving it, takes all traffic back at t(80).
    static func handedOverR2() throws -> Driver {
        var driver = try RolloutWorkloadTests.releasingR2()
        try driver.completeInterval(with: .pass)
        try RolloutWorkloadTests.ready(&driver, 45)
        try driver.completeInterval(with: .pass)
        try RolloutWorkloadTests.primaryAnswers(&driver, ready: true, at: 80)
        return driver
    }

    /// The Deployments an outcome scales to zero.
    static func scalesToZero(_ outcome: RolloutOutcome) -> [String] {
        guard case .accepted(let actions) = outcome else { return [] }
        return actions.compactMap { if case .scaleWorkload(let scaling) = $0, scaling.size == .zero { scaling.target.name } else { nil } }
    }

    @Test("a refusal does not outlive its release: after a rollback the next release's first pass advances")
    func refusalEndsWithItsRelease() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 3))
        driver.start(0)
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(1)) }
        driver.send { $0.abort(now: t(2)) }
        #expect(driver.rollout.status.phase == .failed)
        driver.send { $0.restart(now: t(3)) }
        #expect(driver.rollout.status.phase == .progressing)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(!driver.log.messages.contains { $0.contains("again before passing the step") }, "\(driver.log.messages)")
    }

    @Test("weights refused at every step roll the rollout back at the threshold; it is never promoted")
    func refusedEveryTimeRollsBack() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 2))
        driver.start(0)
        driver.send { $0.weightsFailed($0.split, reason: "the API server said no", now: t(1)) }
        try driver.completeInterval(with: .pass)
        let retried = try #require(driver.log.last { if case .setWeights = $0 { true } else { false } })
        guard case .setWeights(let split) = retried else { return }
        driver.send { $0.weightsFailed(split, reason: "the API server said no", now: t(62)) }
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.failedChecks == 2)
        #expect(!driver.log.contains(.phaseChanged(to: .promoting)))
        let messages = driver.log.compactMap { if case .record(let event) = $0 { event.message } else { nil } }
        #expect(messages.contains { $0.hasPrefix("web: rolled back: ") && $0.contains("cannot set weights 90/10: the API server said no (2/2 failed checks)") },
                "\(messages)")
    }

    @Test("a refused split the rollout has moved past, or one outside the analysis, is a warning only")
    func staleOrOutsideAnalysisIsAWarning() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 2))
        driver.start(0)
        let first = driver.rollout.split
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.send { $0.weightsFailed(first, reason: "late", now: t(31)) } == .accepted([
            .record(RolloutEvent(instant: t(31), severity: .warning, message: "web: cannot set weights 90/10: late")),
        ]))
        #expect(driver.rollout.status.failedChecks == 0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.phase == .succeeded)
        // Once the promotion's last word is said, a later refusal of its weights (sent again after a restart) is a warning.
        driver.send { $0.weightsApplied($0.split, now: t(61)) }
        driver.send { $0.weightsFailed($0.split, reason: "gone", now: t(70)) }
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.rollout.status.message == "web: cannot set weights 0/100: gone")
    }

    @Test(
        "weights refused outside the analysis are shown as refused until the router applies them; a stale split applied clears nothing"
    )
    func refusalOutsideAnalysisIsShownUntilApplied() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 2))
        driver.start(0)
        let first = driver.rollout.split
        driver.send { $0.abort(now: t(5)) }
        #expect(driver.rollout.status.phase == .failed)
        driver.send { $0.weightsFailed($0.split, reason: "VirtualService default/web has no route to web-v1-service", now: t(6)) }
        #expect(CanaryStatus(rollout: driver.rollout, measurements: []).weightsLabel == "100/0 (refused)")
        // An older split applied late says nothing of the current one.
        #expect(driver.send { $0.weightsApplied(first, now: t(7)) } == .accepted([]))
        #expect(driver.rollout.status.weightsRefused == true)
        driver.send { $0.weightsApplied($0.split, now: t(8)) }
        #expect(CanaryStatus(rollout: driver.rollout, measurements: []).weightsLabel == "100/0")
        #expect(driver.rollout.status.message == "web: weights 100/0 applied")
        #expect(driver.rollout.status.phase == .failed)
    }
}
