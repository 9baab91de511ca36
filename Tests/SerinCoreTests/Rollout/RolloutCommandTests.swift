import SerinCore
import Testing

@Suite("Rollout commands")
struct RolloutCommandTests {
    /// Where the rollout is when the command arrives. The spec has a post-rollout hook, so Promoting and
    /// RollingBack last until it answers.
    enum Situation: String, CaseIterable, Sendable {
        case initialized, progressing, pausedProgressing, pausedPromoting, promoting, rollingBack, succeeded, failed

        func driver() throws -> Driver {
            var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.postRollout)]))
            switch self {
            case .initialized:
                break
            case .progressing:
                driver.start(0)
            case .pausedProgressing:
                driver.start(0)
                driver.send { $0.pause(now: t(1)) }
            case .pausedPromoting:
                driver.start(0)
                driver.send { $0.promote(now: t(1)) }
                driver.send { $0.pause(now: t(2)) }
            case .promoting:
                driver.start(0)
                driver.send { $0.promote(now: t(1)) }
            case .rollingBack:
                driver.start(0)
                driver.send { $0.abort(now: t(1)) }
            case .succeeded:
                driver.start(0)
                driver.send { $0.promote(now: t(1)) }
                try driver.answer(.postRollout, .passed, 2)
            case .failed:
                driver.start(0)
                driver.send { $0.abort(now: t(1)) }
                try driver.answer(.postRollout, .passed, 2)
            }
            #expect(driver.rejections.isEmpty)
            return driver
        }

        var phase: RolloutPhase {
            switch self {
            case .initialized: return .initialized
            case .progressing: return .progressing
            case .pausedProgressing, .pausedPromoting: return .paused
            case .promoting: return .promoting
            case .rollingBack: return .rollingBack
            case .succeeded: return .succeeded
            case .failed: return .failed
            }
        }
    }

    static func send(_ command: RolloutCommand, to rollout: inout Rollout, at now: RolloutInstant) -> RolloutOutcome {
        rollout.execute(command, now: now)
    }

    /// nil: the command is refused in that situation.
    static let table: [(Situation, RolloutCommand, RolloutPhase?)] = [
        (.initialized, .start, .progressing), (.initialized, .promote, nil), (.initialized, .abort, nil),
        (.initialized, .pause, nil), (.initialized, .resume, nil), (.initialized, .restart, .progressing),

        (.progressing, .start, nil), (.progressing, .promote, .promoting), (.progressing, .abort, .rollingBack),
        (.progressing, .pause, .paused), (.progressing, .resume, nil), (.progressing, .restart, .progressing),

        (.pausedProgressing, .start, nil), (.pausedProgressing, .promote, .promoting), (.pausedProgressing, .abort, .rollingBack),
        (.pausedProgressing, .pause, nil), (.pausedProgressing, .resume, .progressing), (.pausedProgressing, .restart, .progressing),

        (.pausedPromoting, .start, nil), (.pausedPromoting, .promote, nil), (.pausedPromoting, .abort, .rollingBack),
        (.pausedPromoting, .pause, nil), (.pausedPromoting, .resume, .promoting), (.pausedPromoting, .restart, nil),

        (.promoting, .start, nil), (.promoting, .promote, nil), (.promoting, .abort, .rollingBack),
        (.promoting, .pause, .paused), (.promoting, .resume, nil), (.promoting, .restart, nil),

        (.rollingBack, .start, nil), (.rollingBack, .promote, nil), (.rollingBack, .abort, nil),
        (.rollingBack, .pause, nil), (.rollingBack, .resume, nil), (.rollingBack, .restart, .progressing),

        (.succeeded, .start, nil), (.succeeded, .promote, nil), (.succeeded, .abort, nil),
        (.succeeded, .pause, nil), (.succeeded, .resume, nil), (.succeeded, .restart, nil),

        (.failed, .start, nil), (.failed, .promote, nil), (.failed, .abort, nil),
        (.failed, .pause, nil), (.failed, .resume, nil), (.failed, .restart, .progressing),
    ]

    @Test("every command in every situation is either applied or refused with a reason", arguments: table)
    func commands(situation: Situation, command: RolloutCommand, expected: RolloutPhase?) throws {
        var driver = try situation.driver()
        #expect(driver.rollout.status.phase == situation.phase)
        let before = driver.rollout
        let outcome = Self.send(command, to: &driver.rollout, at: t(10))
        if let expected {
            #expect(outcome.rejection == nil)
            #expect(driver.rollout.status.phase == expected)
        } else if command == .restart {
            // Once promoted, the canary serves everything: there is nothing to roll out again.
            #expect(outcome == .rejected(.releaseConflict(.canaryAlreadyServes(Fixture.canary))))
            #expect(driver.rollout == before, "a refused command changes nothing")
        } else {
            #expect(outcome == .rejected(.commandNotAllowed(command, phase: situation.phase)))
            #expect(driver.rollout == before, "a refused command changes nothing")
        }
    }

    @Test("the table covers every command in every situation")
    func tableIsComplete() {
        for situation in Situation.allCases {
            for command in RolloutCommand.allCases {
                #expect(Self.table.filter { $0.0 == situation && $0.1 == command }.count == 1, "\(situation) \(command)")
            }
        }
    }

    @Test("refusals explain themselves", arguments: [
        (RolloutRejection.commandNotAllowed(.pause, phase: .rollingBack), "cannot pause while RollingBack: a rollback always runs to the end"),
        (.commandNotAllowed(.abort, phase: .initialized), "cannot abort while Initialized: the rollout has not started"),
        (.commandNotAllowed(.promote, phase: .succeeded), "cannot promote while Succeeded: already promoted; set a new spec.canary to release the next version"),
        (.commandNotAllowed(.abort, phase: .failed), "cannot abort while Failed: already rolled back; use `rollout` to start again"),
        (.commandNotAllowed(.resume, phase: .progressing), "cannot resume while Progressing: not paused"),
        (.commandNotAllowed(.start, phase: .progressing), "cannot start while Progressing: already started; use `rollout` to start again"),
        (.commandNotAllowed(.pause, phase: .paused), "cannot pause while Paused: already paused"),
        (.verdictNotExpected(phase: .progressing, stage: .confirmRollout), "verdict ignored: the canary has no traffic yet (confirm-rollout)"),
        (.verdictNotExpected(phase: .progressing, stage: .confirmPromotion), "verdict ignored: the step already passed, waiting for the confirm-promotion gate"),
    ])
    func rejectionDescriptions(rejection: RolloutRejection, expected: String) {
        #expect(rejection.description == expected)
    }

    @Test("promote skips the remaining steps and gates")
    func promoteSkipsGates() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30], webhooks: [Fixture.hook(.confirmPromotion)]))
        driver.start(0)
        driver.send { $0.promote(now: t(3)) }
        #expect(driver.log.canaryWeights == [0, 10, 100])
        #expect(driver.log.webhookRuns.isEmpty)
        driver.send { $0.weightsApplied($0.split, now: t(3)) }
        #expect(driver.log.messages.suffix(2) == [
            "web: promotion requested, promoting canary web-v2-service to 100%", "web: promotion completed: all traffic on canary web-v2-service",
        ])
    }

    @Test("promote at a confirm-promotion gate that waits for its hooks' yes says the gate is skipped")
    func promoteSaysTheGateIsSkipped() throws {
        var driver = Driver(try Fixture.rollout(weights: [10], webhooks: [Fixture.hook(.confirmPromotion)]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.webhookRuns.map(\.type) == [.confirmPromotion])
        try driver.answer(.confirmPromotion, .failed(reason: "not yet"), 31)
        driver.send { $0.promote(now: t(40)) }
        #expect(driver.log.messages.contains(
            "web: promotion requested, promoting canary web-v2-service to 100%; the confirm-promotion gate it waited at is skipped"
        ), "\(driver.log.messages)")
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("abort rolls back at once and says so")
    func abortRollsBack() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        try driver.completeInterval(with: .pass)
        driver.send { $0.abort(now: t(40)) }
        #expect(driver.log.canaryWeights == [0, 10, 50, 0])
        driver.send { $0.weightsApplied($0.split, now: t(40)) }
        #expect(driver.log.events.suffix(2) == [
            RolloutEvent(instant: t(40), severity: .warning, message: "web: rolled back: abort requested"),
            RolloutEvent(instant: t(40), severity: .warning, message: "web: rollout failed: abort requested; all traffic on stable web-v1-service"),
        ])
    }

    @Test("nothing is checked while paused, and paused time does not count towards the deadline")
    func pausedTimeIsFrozen() throws {
        var driver = Driver(try Fixture.rollout(deadline: .seconds(100)))
        driver.start(0)
        driver.send { $0.pause(now: t(20)) }
        #expect(driver.rollout.status.pausedFrom == .progressing)
        #expect(driver.rollout.nextWakeUp == nil)
        for at in [30, 100, 1_000] {
            #expect(driver.tick(at) == .accepted([]))
        }
        let resumed = driver.send { $0.resume(now: t(1_000)) }
        #expect(resumed.actions == [
            .phaseChanged(to: .progressing),
            .record(RolloutEvent(instant: t(1_000), severity: .normal, message: "web: resumed at canary weight 10%")),
        ])
        #expect(driver.rollout.status.pausedFrom == nil)
        #expect(driver.rollout.status.nextCheckAt == t(1_030), "a full interval of fresh data after resuming")
        #expect(driver.rollout.nextWakeUp == t(1_030))
        driver.tick(1_030)
        driver.verdict(.inconclusive(reason: "quiet"), 1_030)
        driver.tick(1_099)
        #expect(driver.rollout.status.phase == .progressing)
        driver.tick(1_100)
        #expect(driver.rollout.status.phase == .failed)
    }

    @Test("resuming asks a waiting gate again at once", arguments: [WebhookType.confirmRollout, .preRollout])
    func resumeAsksAgain(type: WebhookType) throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(type)]))
        driver.start(0)
        driver.send { $0.pause(now: t(1)) }
        driver.send { $0.resume(now: t(2)) }
        #expect(driver.log.webhookRuns.map(\.type) == [type, type])
        try driver.answer(type, .passed, 3)
        #expect(driver.rollout.status.canaryWeight == 10)
    }
}
