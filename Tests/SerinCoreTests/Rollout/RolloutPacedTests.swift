import Foundation
import SerinCore
import Testing

/// Paced steps (`stepWeights: [{weight: 25, pause: 10m}, {weight: 50, pause: promote}]`): a step whose analysis
/// passed holds its weight until its pause is over, still analysing, and failures count as always.
@Suite("Rollout paced steps")
struct RolloutPacedTests {
    static func rollout(
        _ steps: [WeightSchedule.PacedStep], threshold: Int = 2, interval: Duration = .seconds(60),
        webhooks: [WebhookSpec] = [], judge: JudgeSettings = .threshold, deadline: Duration = .seconds(600)
    ) throws -> Rollout {
        var spec = try Fixture.spec(threshold: threshold, interval: interval, deadline: deadline, webhooks: webhooks)
        spec.analysis.schedule = try WeightSchedule(pacedSteps: steps)
        spec.analysis.judge = judge
        return try Rollout(spec: spec)
    }

    static let tenMinutes = WeightSchedule.PacedStep(weight: 25, pause: .duration(.seconds(600)))
    static let untilPromote = WeightSchedule.PacedStep(weight: 50, pause: .promote)

    @Test("a timed pause holds a passing step at its weight until the pause ends, then the next pass advances")
    func timedPauseHolds() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)]))
        driver.start(0)
        for _ in 1...9 {
            let at = try driver.completeInterval(with: .pass)
            #expect(driver.rollout.status.canaryWeight == 25, "still paused at \(at)s")
            #expect(driver.rollout.status.phase == .progressing)
        }
        #expect(driver.rollout.status.holdReason == "paused at 25% until 00:10:00 UTC (step 1/2 holds 10m)")
        #expect(!driver.rollout.isWaitingForPromote)
        #expect(driver.log.messages.filter { $0.contains("paused at 25%") }.count == 1)
        // The 10m pause is as long as the progress deadline: passing while paused is progress.
        #expect(try driver.completeInterval(with: .pass) == 600)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.rollout.status.stepIndex == 1)
        #expect(driver.log.canaryWeights == [0, 25, 50])
    }

    @Test("resumed during a timed pause, the status says the pause again, not 'resumed', until the step ends")
    func resumeSaysThePause() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.message == "web: paused at 25% until 00:10:00 UTC (step 1/2 holds 10m)")
        driver.send { $0.pause(now: t(100)) }
        driver.send { $0.resume(now: t(110)) }
        #expect(driver.log.messages.suffix(2) == ["web: resumed at canary weight 25%", "web: paused at 25% until 00:10:00 UTC (step 1/2 holds 10m)"])
        #expect(driver.rollout.status.message == "web: paused at 25% until 00:10:00 UTC (step 1/2 holds 10m)")
    }

    @Test("a timed pause's end wakes the rollout between intervals")
    func pauseEndWakes() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)], interval: .seconds(90)))
        driver.start(0)
        var at = 0
        while at < 540 { at = try driver.completeInterval(with: .pass) }
        #expect(driver.rollout.nextWakeUp == t(600))
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
    }

    @Test("a failed check during a pause counts towards the threshold, and the rollback ends the pause")
    func failureDuringPauseCounts() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)], threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.failedChecks == 1)
        #expect(driver.rollout.status.canaryWeight == 25)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.holdReason?.hasPrefix("paused at 25%") == true)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.canaryWeight == 0)
        #expect(driver.rollout.status.holdReason == nil)
        #expect(driver.rollout.nextWakeUp == nil)
    }

    @Test("a promote pause holds, analysing, past the progress deadline until serin promote; at the last step that promotes")
    func promotePauseAtLastStep() throws {
        var driver = Driver(try Self.rollout([.init(weight: 10), Self.untilPromote]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
        var at = 0
        for _ in 1...20 { at = try driver.completeInterval(with: .pass) }
        #expect(driver.rollout.status.phase == .progressing)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.rollout.status.holdReason == "waiting for serin promote at 50%")
        #expect(driver.rollout.isWaitingForPromote)
        #expect(driver.rollout.status.message == "web: waiting for serin promote at 50%")
        #expect(driver.log.analysisRequests.count == 21)
        driver.send { $0.promote(now: t(at + 5)) }
        #expect(driver.log.messages.contains("web: serin promote released the pause at canary weight 50%: the last step, promoting"))
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.log.canaryWeights == [0, 10, 50, 100])
    }

    @Test("serin promote at a promote pause before the last step moves to the next step, through its gate")
    func promotePauseReleasesToNextStep() throws {
        let gate = Fixture.hook(.confirmTrafficIncrease)
        var driver = Driver(try Self.rollout([.init(weight: 10, pause: .promote), .init(weight: 50)], webhooks: [gate]))
        driver.start(0)
        try driver.answer(.confirmTrafficIncrease, .passed, 0)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.webhookRuns.count == 1, "only the first step's gate: the pause holds the second")
        driver.tick(120)
        #expect(driver.rollout.status.pending?.kind == .analysis)
        driver.send { $0.promote(now: t(125)) }
        try driver.answer(.confirmTrafficIncrease, .passed, 126)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.rollout.status.phase == .progressing)
        // The analysis asked before the release is for a step that is over.
        let stale = try #require(driver.log.analysisRequests.dropLast().last)
        #expect(driver.rollout.status.pending?.ticket != stale.ticket)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("paused by a person at a promote pause, serin promote still releases only that pause: it un-pauses and moves to the next step")
    func pausedPromotePauseReleasesToNextStep() throws {
        var driver = Driver(try Self.rollout([.init(weight: 10, pause: .promote), .init(weight: 50), .init(weight: 80)]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.isWaitingForPromote)
        #expect(driver.send { $0.pause(now: t(100)) }.rejection == nil)
        #expect(driver.send { $0.promote(now: t(110)) }.rejection == nil)
        #expect(driver.log.canaryWeights == [0, 10, 50], "the next step, not all at once")
        #expect(driver.rollout.status.phase == .progressing)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 80)
    }

    @Test("serin promote at a step without a promote pause still promotes at once")
    func promoteElsewherePromotes() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, Self.untilPromote]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        driver.send { $0.promote(now: t(70)) }
        #expect(driver.log.canaryWeights == [0, 25, 100])
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("with the statistical judge a step waits for both minStepDuration and its pause", arguments: [
        (Duration.seconds(120), 600), (.seconds(900), 900),
    ])
    func pauseComposesWithMinStepDuration(minStep: Duration, advancesAt: Int) throws {
        let judge = JudgeSettings(kind: .statistical, minStepDuration: minStep)
        // (A statistical step that has not lasted minStepDuration is not yet progress: the deadline must outlast it.)
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)], judge: judge, deadline: .seconds(1_200)))
        driver.start(0)
        var at = 0
        while driver.rollout.status.canaryWeight == 25 { at = try driver.completeInterval(with: .pass) }
        #expect(at == advancesAt)
        #expect(driver.rollout.status.canaryWeight == 50)
    }

    @Test("a rollout restored mid-pause keeps the pause's end")
    func restoreKeepsPauseEnd() throws {
        var driver = Driver(try Self.rollout([Self.tenMinutes, .init(weight: 50)]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        driver.tick(120)
        driver.rollout = try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(driver.rollout))
        driver.send { $0.restored(now: t(200)) }
        driver.verdict(.pass, 200)
        #expect(driver.rollout.status.holdReason == "paused at 25% until 00:10:00 UTC (step 1/2 holds 10m)")
        var at = 200
        while driver.rollout.status.canaryWeight == 25 { at = try driver.completeInterval(with: .pass) }
        #expect(at == 600)
        #expect(driver.rollout.status.canaryWeight == 50)
    }
}
