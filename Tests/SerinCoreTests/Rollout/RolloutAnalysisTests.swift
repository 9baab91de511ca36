import SerinCore
import Testing

@Suite("Rollout analysis")
struct RolloutAnalysisTests {
    enum Step: String, Sendable {
        case pass, fail, unsure

        var verdict: Verdict {
            switch self {
            case .pass: return .pass
            case .fail: return .fail(reason: "request-success-rate 90.00% < 99%")
            case .unsure: return .inconclusive(reason: "request-success-rate: 0 requests < 1 minimum")
            }
        }
    }

    @Test("rolls back exactly when failed checks reach the threshold; passes do not reset the count", arguments: [
        (1, [Step.fail], 1 as Int?),
        (2, [.fail, .fail], 2),
        (3, [.fail, .pass, .fail, .pass, .fail], 5),
        (3, [.fail, .pass, .fail], nil),
        (2, [.unsure, .unsure, .fail, .unsure, .fail], 5),
        (2, [.pass, .pass, .pass, .fail], nil),
        (5, [.fail, .fail, .fail, .fail, .pass, .fail], 6),
    ])
    func thresholdCounting(threshold: Int, steps: [Step], rolledBackAt expected: Int?) throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30, 40, 50, 60, 70, 80, 90], threshold: threshold,
                                                deadline: .seconds(3_600)))
        driver.start(0)
        var rolledBackAt: Int?
        for (index, step) in steps.enumerated() {
            try driver.completeInterval(with: step.verdict)
            if rolledBackAt == nil && driver.rollout.status.phase != .progressing { rolledBackAt = index + 1 }
        }
        #expect(rolledBackAt == expected)
        #expect(driver.rollout.status.failedChecks == steps.filter { $0 == .fail }.count)
        #expect(driver.rollout.status.phase == (expected == nil ? .progressing : .failed))
    }

    @Test("halts and rollbacks name the failed check and the tally")
    func haltAndRollbackMessages() throws {
        var driver = Driver(try Fixture.rollout(threshold: 2))
        let samples = AnalysisSamples([
            "request-success-rate": .traffic(canary: MetricSample(requests: 1_204, failures: 0, window: .seconds(60)), stable: nil),
            "request-duration": .traffic(canary: MetricSample(requests: 1_204, failures: 0, p99Milliseconds: 812, window: .seconds(60)), stable: nil),
        ])
        driver.start(0)
        for at in [30, 60] {
            driver.tick(at)
            let request = try #require(driver.log.analysisRequests.last)
            driver.send { $0.analysisCompleted(verdict: ThresholdJudge().judge(samples, for: request).verdict, now: t(at)) }
        }
        // Where the traffic is, the last word says once the router applied the rollback's weights.
        driver.send { $0.weightsApplied($0.split, now: t(60)) }
        let reason = "request-duration p99 812ms > 500ms (canary web-v2-service, 1m, 1,204 requests)"
        #expect(driver.log.events.suffix(3) == [
            RolloutEvent(instant: t(30), severity: .warning,
                         message: "web: halt: \(reason) (1/2 failed checks)"),
            RolloutEvent(instant: t(60), severity: .warning, message: "web: rolled back: \(reason) (2/2 failed checks)"),
            RolloutEvent(instant: t(60), severity: .warning, message: "web: rollout failed: \(reason) (2/2 failed checks); all traffic on stable web-v1-service"),
        ])
        // The message status keeps showing says why it failed.
        #expect(driver.rollout.status.message == "web: rollout failed: \(reason) (2/2 failed checks); all traffic on stable web-v1-service")
    }

    @Test("inconclusive holds the weight without counting a failure")
    func inconclusiveHolds() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        try driver.completeInterval(with: .inconclusive(reason: "request-success-rate: 3 requests < 100 minimum"))
        #expect(driver.rollout.status.canaryWeight == 10)
        #expect(driver.rollout.status.failedChecks == 0)
        #expect(driver.rollout.status.holdReason == "request-success-rate: 3 requests < 100 minimum")
        #expect(driver.rollout.status.nextCheckAt == t(60))
        #expect(driver.log.messages.last == "web: hold: request-success-rate: 3 requests < 100 minimum")
    }

    @Test("a Canary written for Flagger counts a check with nothing to judge as failed, as Flagger counts no values found: the threshold rolls it back, at a step or at a closed gate")
    func noValuesFailForFlagger() throws {
        var spec = try Fixture.spec(threshold: 2)
        spec.analysis.noValuesFail = true
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        try driver.completeInterval(with: .inconclusive(reason: "request-success-rate: no requests to judge"))
        #expect(driver.rollout.status.canaryWeight == 10 && driver.rollout.status.failedChecks == 1)
        #expect(driver.log.messages.last == "web: halt: request-success-rate: no requests to judge (1/2 failed checks)")
        try driver.completeInterval(with: .inconclusive(reason: "request-success-rate: no requests to judge"))
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.messages.contains("web: rolled back: request-success-rate: no requests to judge (2/2 failed checks)"), "\(driver.log.messages)")

        spec.analysis.webhooks = [Fixture.hook(.confirmPromotion)]
        spec.analysis.schedule = try WeightSchedule(stepWeights: [10])
        var gated = Driver(try Rollout(spec: spec))
        gated.start(0)
        try gated.completeInterval(with: .pass)
        try gated.answer(.confirmPromotion, .failed(reason: "change freeze"), 30)
        gated.tick(60)
        gated.verdict(.inconclusive(reason: "request-duration: no p99 reported"), 60)
        #expect(gated.rollout.status.failedChecks == 1 && gated.rollout.status.stage == .confirmPromotion)
    }

    @Test("the progress deadline fails a rollout held by inconclusive data", arguments: [
        (120, 119, false), (120, 120, true), (600, 599, false), (600, 600, true),
    ])
    func deadline(deadline: Int, tickAt: Int, rolledBack: Bool) throws {
        var driver = Driver(try Fixture.rollout(deadline: .seconds(deadline)))
        driver.start(0)
        while let due = driver.rollout.status.nextCheckAt, due < t(tickAt) {
            try driver.completeInterval(with: .inconclusive(reason: "request-success-rate: 0 requests < 1 minimum (canary web-v2-service, 30s)"))
        }
        driver.tick(tickAt)
        #expect(driver.rollout.status.phase == (rolledBack ? .failed : .progressing))
        #expect(driver.log.phases.contains(.promoting) == false)
        if rolledBack {
            let limit = deadline == 120 ? "2m" : "10m"
            #expect(driver.log.messages.contains(
                "web: rolled back: no progress within the \(limit) progress deadline at canary weight 10%: request-success-rate: 0 requests < 1 minimum (canary web-v2-service, 30s)"))
        }
    }

    @Test("the progress deadline counts from the last advance")
    func deadlineCountsFromProgress() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], deadline: .seconds(100)))
        driver.start(0)
        try driver.completeInterval(with: .pass)  // advances to 50% at t30
        try driver.completeInterval(with: .inconclusive(reason: "quiet"))
        try driver.completeInterval(with: .inconclusive(reason: "quiet"))
        driver.tick(129)
        #expect(driver.rollout.status.phase == .progressing)
        #expect(driver.rollout.nextWakeUp == t(130))
        driver.tick(130)
        #expect(driver.rollout.status.phase == .failed)
    }

    @Test("the progress deadline also fails a rollout stuck waiting for an analysis that never answers")
    func deadlineWhileWaiting() throws {
        var driver = Driver(try Fixture.rollout(deadline: .seconds(100)))
        driver.start(0)
        driver.tick(30)
        #expect(driver.rollout.status.pending != nil)
        #expect(driver.rollout.nextWakeUp == t(100))
        driver.tick(100)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.send { $0.analysisCompleted(verdict: .pass, now: t(101)) }
            == .rejected(.verdictNotExpected(phase: .failed, stage: .finished)))
    }

    @Test("a verdict between interval boundaries is accepted", arguments: [
        (Verdict.pass, 50, 0, 40), (.fail(reason: "p99 900ms > 500ms"), 10, 1, 40), (.inconclusive(reason: "quiet"), 10, 0, 40),
    ])
    func earlyVerdict(verdict: Verdict, weight: Int, failedChecks: Int, nextCheck: Int) throws {
        var driver = Driver(try Fixture.rollout(threshold: 3))
        driver.start(0)
        #expect(driver.log.analysisRequests.isEmpty)
        let outcome = driver.verdict(verdict, 10)
        #expect(outcome.rejection == nil)
        #expect(driver.rollout.status.canaryWeight == weight)
        #expect(driver.rollout.status.failedChecks == failedChecks)
        #expect(driver.rollout.status.nextCheckAt == t(nextCheck))
    }

    @Test("an early failure rolls back at once when it reaches the threshold")
    func earlyRollback() throws {
        var driver = Driver(try Fixture.rollout(threshold: 1))
        driver.start(0)
        driver.verdict(.fail(reason: "canary slower than stable"), 7)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.messages.contains("web: rolled back: canary slower than stable (1/1 failed checks)"))
    }

    @Test("a verdict settles the interval even while its rollout hooks run; their late answer is stale")
    func verdictWhileHooksRun() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.rollout)]))
        driver.start(0)
        driver.tick(30)
        let run = try #require(driver.log.webhookRuns.last)
        driver.verdict(.pass, 31)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.send { $0.webhookCompleted(ticket: run.ticket, result: .passed, now: t(32)) } == .rejected(.staleResult(run.ticket)))
        #expect(driver.log.analysisRequests.isEmpty)
    }

    @Test("verdicts are refused where they cannot count", arguments: [
        ("initialized", Verdict.pass, RolloutRejection.verdictNotExpected(phase: .initialized, stage: .notStarted)),
        ("confirm-rollout", .fail(reason: "x"), .verdictNotExpected(phase: .progressing, stage: .confirmRollout)),
        ("traffic-gate", .pass, .verdictNotExpected(phase: .progressing, stage: .confirmTrafficIncrease)),
        ("traffic-gate", .inconclusive(reason: "x"), .verdictNotExpected(phase: .progressing, stage: .confirmTrafficIncrease)),
        ("paused", .fail(reason: "x"), .verdictNotExpected(phase: .paused, stage: .analysis)),
    ])
    func refusedVerdicts(situation: String, verdict: Verdict, expected: RolloutRejection) throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.confirmRollout), Fixture.hook(.confirmTrafficIncrease)]))
        switch situation {
        case "initialized":
            break
        case "confirm-rollout":
            driver.start(0)
        case "traffic-gate":
            driver.start(0)
            try driver.answer(.confirmRollout, .passed, 0)
            try driver.answer(.confirmTrafficIncrease, .passed, 0)
            try driver.completeInterval(with: .pass)
        default:
            driver.start(0)
            try driver.answer(.confirmRollout, .passed, 0)
            try driver.answer(.confirmTrafficIncrease, .passed, 0)
            driver.send { $0.pause(now: t(1)) }
        }
        let before = driver.rollout
        #expect(driver.verdict(verdict, 40) == .rejected(expected))
        #expect(driver.rollout == before, "a refused verdict changes nothing")
    }

    @Test("a failure still counts while a gate decides")
    func failureDuringGate() throws {
        var driver = Driver(try Fixture.rollout(threshold: 2, webhooks: [Fixture.hook(.confirmTrafficIncrease)]))
        driver.start(0)
        try driver.answer(.confirmTrafficIncrease, .passed, 0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.stage == .confirmTrafficIncrease)
        driver.verdict(.fail(reason: "errors spiking"), 35)
        #expect(driver.rollout.status.failedChecks == 1)
        driver.verdict(.fail(reason: "errors spiking"), 36)
        #expect(driver.rollout.status.phase == .failed)
    }
}
