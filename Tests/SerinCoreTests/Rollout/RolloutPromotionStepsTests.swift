import Foundation
import SerinCore
import Testing

/// Flagger's `stepWeightPromotion`: once analysis passes, traffic moves to the promoted version by the step each
/// interval, without analysis, instead of all at once.
@Suite("Rollout promotion steps")
struct RolloutPromotionStepsTests {
    static func rollout(weights: [Int] = [10, 50], step: Int = 20, webhooks: [WebhookSpec] = []) throws -> Rollout {
        var spec = try Fixture.spec(weights: weights, webhooks: webhooks)
        spec.analysis.stepWeightPromotion = step
        return try Rollout(spec: spec)
    }

    /// A driver whose analysis has passed every step: promotion has just begun.
    static func promoted(step: Int = 20, webhooks: [WebhookSpec] = []) throws -> Driver {
        var driver = Driver(try rollout(step: step, webhooks: webhooks))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        return driver
    }

    @Test("after the last step passes the canary rises by the step each interval, unanalysed, and the release is promoted at 100%")
    func promotionRisesByStep() throws {
        var driver = try Self.promoted()
        #expect(driver.rollout.status.phase == .promoting)
        #expect(driver.rollout.status.stage == .promotionSteps)
        #expect(driver.log.canaryWeights == [0, 10, 50, 70])
        #expect(driver.log.messages.contains("web: all steps passed, promoting canary web-v2-service to 100%, 20% per 30s"))
        let analyses = driver.log.analysisRequests.count
        var at = 60
        while driver.rollout.status.phase == .promoting {
            let due = try #require(driver.rollout.nextWakeUp, "a promotion step is always scheduled")
            #expect(driver.rollout.status.releases.last?.outcome == .progressing, "promoted only at 100%")
            // The stable keeps its name while it serves a share: status read "stable web-v2, 10/90".
            #expect(CanaryStatus(rollout: driver.rollout, measurements: []).stable == "web-v1-service")
            at = Int(due.sinceEpoch.components.seconds)
            driver.tick(at)
        }
        #expect(at == 120)
        #expect(driver.log.canaryWeights == [0, 10, 50, 70, 90, 100])
        #expect(driver.log.analysisRequests.count == analyses, "nothing is analysed while promoting")
        #expect(driver.log.messages.contains("web: promotion: canary weight 90%"))
        #expect(driver.log.messages.last == "web: promotion: canary weight 100%")
        driver.send { $0.weightsApplied($0.split, now: t(at)) }
        #expect(driver.log.messages.last == "web: promotion completed: all traffic on canary web-v2-service")
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.rollout.status.releases.last?.outcome == .promoted)
        #expect(CanaryStatus(rollout: driver.rollout, measurements: []).stable == "web-v2-service")
    }

    @Test("blue/green with stepWeightPromotion ramps the canary from 0 after its iterations")
    func blueGreenRampsFromZero() throws {
        var spec = try Fixture.spec()
        spec.analysis.schedule = try WeightSchedule(iterations: 2)
        spec.analysis.stepWeightPromotion = 25
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        var at = 60
        while driver.rollout.status.phase == .promoting, let due = driver.rollout.nextWakeUp {
            at = Int(due.sinceEpoch.components.seconds)
            driver.tick(at)
        }
        #expect(driver.log.canaryWeights.drop { $0 == 0 } == [25, 50, 75, 100])
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("a step as large as what is left promotes at once, as without stepWeightPromotion")
    func largeStepPromotesAtOnce() throws {
        let driver = try Self.promoted(step: 50)
        #expect(driver.log.canaryWeights == [0, 10, 50, 100])
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("serin promote takes the remaining steps at once; abort rolls back to stable; pause holds the weight until resume")
    func commandsDuringPromotionSteps() throws {
        var promote = try Self.promoted()
        #expect(promote.send { $0.promote(now: t(65)) }.rejection == nil)
        #expect(promote.log.canaryWeights.last == 100)
        #expect(promote.rollout.status.phase == .succeeded)
        #expect(promote.log.messages.contains("web: serin promote: the remaining promotion steps are taken at once"))

        var abort = try Self.promoted()
        #expect(abort.send { $0.abort(now: t(65)) }.rejection == nil)
        #expect(abort.log.canaryWeights.last == 0)
        #expect(abort.rollout.status.phase == .failed)

        var pause = try Self.promoted()
        #expect(pause.send { $0.pause(now: t(65)) }.rejection == nil)
        #expect(pause.rollout.nextWakeUp == nil)
        pause.tick(500)
        #expect(pause.log.canaryWeights.last == 70, "paused: no step")
        #expect(pause.send { $0.resume(now: t(600)) }.rejection == nil)
        #expect(pause.log.canaryWeights.last == 90, "resumed: the next step at once")
        #expect(pause.rollout.status.phase == .promoting)

        // Paused during the steps, promote takes the rest at once too (it was refused as "already promoting").
        var pausedThenPromoted = try Self.promoted()
        #expect(pausedThenPromoted.send { $0.pause(now: t(65)) }.rejection == nil)
        #expect(pausedThenPromoted.send { $0.promote(now: t(70)) }.rejection == nil)
        #expect(pausedThenPromoted.log.canaryWeights.last == 100)
        #expect(pausedThenPromoted.rollout.status.phase == .succeeded)
    }

    @Test("a controller restarted during the promotion steps reapplies the weight and goes on from where it was")
    func restartDuringPromotionSteps() throws {
        let driver = try Self.promoted()
        var restarted = Driver(try driver.storedAndRestored())
        restarted.send { $0.restored(now: t(70)) }
        #expect(restarted.log.canaryWeights == [70])
        restarted.tick(90)
        #expect(restarted.log.canaryWeights == [70, 90])
    }

    @Test("in Flagger's shape traffic moves back to the primary by the step once the primary serves the promoted revision")
    func workloadMovesBackToPrimaryByStep() throws {
        var spec = try RolloutWorkloadTests.spec(revision: "r1")
        spec.analysis.stepWeightPromotion = 20
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        try RolloutWorkloadTests.primaryAnswers(&driver, ready: true, at: 1)
        var r2 = try RolloutWorkloadTests.spec(revision: "r2")
        r2.analysis.stepWeightPromotion = 20
        driver.send { $0.specChanged(r2, now: t(10)) }
        driver.send { $0.restart(now: t(10)) }
        try RolloutWorkloadTests.ready(&driver, 11)
        try driver.completeInterval(with: .pass)
        try RolloutWorkloadTests.ready(&driver, 45)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
        try RolloutWorkloadTests.primaryAnswers(&driver, ready: true, at: 80)
        #expect(driver.rollout.status.stage == .promotionSteps)
        #expect(driver.log.canaryWeights.last == 30)
        #expect(RolloutWorkloadTests.scalings(driver).last == .likePrimary, "the target serves until traffic has left it")
        var at = 80
        while driver.rollout.status.phase == .promoting, let due = driver.rollout.nextWakeUp {
            at = Int(due.sinceEpoch.components.seconds)
            driver.tick(at)
        }
        #expect(Array(driver.log.canaryWeights.suffix(3)) == [30, 10, 0])
        #expect(RolloutWorkloadTests.scalings(driver).last == .zero)
        #expect(driver.rollout.status.stableRevision == "r2")
        #expect(driver.log.messages.contains("podinfo: promotion: podinfo-primary weight 90%"))
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("stepWeightPromotion outside 1–100 is refused with the field")
    func outOfRangeRefused() throws {
        for step in [0, 101] {
            var spec = try Fixture.spec()
            spec.analysis.stepWeightPromotion = step
            #expect(spec.problems.contains(.init(field: "analysis.stepWeightPromotion", message: "is \(step), expected a percentage from 1 to 100")))
        }
    }
}
