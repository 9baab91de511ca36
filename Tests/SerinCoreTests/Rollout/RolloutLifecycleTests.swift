import SerinCore
import Testing

@Suite("Rollout lifecycle")
struct RolloutLifecycleTests {
    static let v1 = Fixture.stable
    static let v2 = Fixture.canary

    static func weights(_ stable: Int, _ canary: Int) -> RolloutAction {
        .setWeights(stable: WeightedDestination(destination: v1, weight: stable),
                    canary: WeightedDestination(destination: v2, weight: canary))
    }

    static func event(_ at: Int, _ message: String, _ severity: RolloutEvent.Severity = .normal) -> RolloutAction {
        .record(RolloutEvent(instant: t(at), severity: severity, message: message))
    }

    @Test("a clean rollout asks for exactly these actions from start to promotion")
    func happyPathActions() throws {
        var rollout = try Fixture.rollout()
        let metrics = rollout.spec.analysis.metrics

        #expect(rollout.start(now: t(0)) == .accepted([
            .phaseChanged(to: .progressing),
            Self.event(0, "web: rollout started: canary web-v2-service, stable web-v1-service"),
            Self.weights(100, 0),
            Self.weights(90, 10),
            Self.event(0, "web: advance canary weight to 10%"),
        ]))
        #expect(rollout.tick(now: t(29)) == .accepted([]))
        #expect(rollout.tick(now: t(30)) == .accepted([
            .analyze(AnalysisRequest(ticket: RolloutTicket(1), canaryName: Fixture.name, canary: Self.v2, stable: Self.v1,
                                     canaryWeight: 10, metrics: metrics)),
        ]))
        #expect(rollout.tick(now: t(31)) == .accepted([]), "no second analysis while one is pending")
        #expect(rollout.analysisCompleted(verdict: .pass, now: t(32)) == .accepted([
            Self.weights(50, 50),
            Self.event(32, "web: advance canary weight to 50%"),
        ]))
        #expect(rollout.tick(now: t(62)) == .accepted([
            .analyze(AnalysisRequest(ticket: RolloutTicket(2), canaryName: Fixture.name, canary: Self.v2, stable: Self.v1,
                                     canaryWeight: 50, metrics: metrics)),
        ]))
        #expect(rollout.analysisCompleted(verdict: .pass, now: t(63)) == .accepted([
            .phaseChanged(to: .promoting),
            Self.weights(0, 100),
            Self.event(63, "web: all steps passed, promoting canary web-v2-service to 100%"),
            .phaseChanged(to: .succeeded),
            .finished(.succeeded),
        ]))
        // Where the traffic is, the last word says once the router applied the promotion's weights.
        #expect(rollout.weightsApplied(rollout.split, now: t(63)) == .accepted([
            Self.event(63, "web: promotion completed: all traffic on canary web-v2-service"),
        ]))
        #expect(rollout.status.phase == .succeeded)
        #expect(rollout.status.canaryWeight == 100)
        #expect(rollout.status.lastTransitionAt == t(63))
        #expect(rollout.status.iteration == 2)
        #expect(rollout.nextWakeUp == nil)
    }

    @Test("status follows the steps: step index, weights and the next check", arguments: [
        (0, 10, 30), (1, 20, 60), (2, 30, 90), (3, 40, 120), (4, 50, 150),
    ])
    func statusAtEachStep(passes: Int, weight: Int, nextCheck: Int) throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30, 40, 50]))
        driver.start(0)
        for _ in 0..<passes { try driver.completeInterval(with: .pass) }
        #expect(driver.rollout.status.stepIndex == passes)
        #expect(driver.rollout.status.canaryWeight == weight)
        #expect(driver.rollout.status.stableWeight == 100 - weight)
        #expect(driver.rollout.status.nextCheckAt == t(nextCheck))
        #expect(driver.rollout.nextWakeUp == t(nextCheck))
        #expect(driver.rollout.spec.analysis.schedule.label(atStep: passes) == "\(passes + 1)/5")
    }

    /// Each scenario drives a rollout (post-rollout hook configured, so Promoting and RollingBack last until
    /// it answers) and lists the phases it must pass through.
    enum Scenario: String, CaseIterable, Sendable {
        case start, promoteAfterAllSteps, rollBackAfterThreshold, pauseAndResume, pausePromotingAndResume,
             abortWhilePaused, promoteWhilePaused, abortWhilePromoting, restartAfterSuccess, restartAfterFailure,
             skipAnalysis, progressDeadline

        var expectedPhases: [RolloutPhase] {
            switch self {
            case .start: return [.progressing]
            case .promoteAfterAllSteps: return [.progressing, .promoting, .succeeded]
            case .rollBackAfterThreshold: return [.progressing, .rollingBack, .failed]
            case .pauseAndResume: return [.progressing, .paused, .progressing]
            case .pausePromotingAndResume: return [.progressing, .promoting, .paused, .promoting, .succeeded]
            case .abortWhilePaused: return [.progressing, .paused, .rollingBack, .failed]
            case .promoteWhilePaused: return [.progressing, .paused, .promoting, .succeeded]
            case .abortWhilePromoting: return [.progressing, .promoting, .rollingBack, .failed]
            // The promoted canary serves everything: releasing it again is refused.
            case .restartAfterSuccess: return [.progressing, .promoting, .succeeded]
            case .restartAfterFailure: return [.progressing, .rollingBack, .failed, .progressing]
            case .skipAnalysis: return [.progressing, .promoting, .succeeded]
            case .progressDeadline: return [.progressing, .rollingBack, .failed]
            }
        }

        func run() throws -> Driver {
            let hooks = [Fixture.hook(.postRollout)]
            var driver = Driver(try Fixture.rollout(threshold: 2, deadline: .seconds(120), webhooks: hooks,
                                                    skipAnalysis: self == .skipAnalysis))
            driver.start(0)
            switch self {
            case .start:
                break
            case .promoteAfterAllSteps:
                try driver.completeInterval(with: .pass)
                try driver.completeInterval(with: .pass)
                try driver.answer(.postRollout, .passed, 70)
            case .rollBackAfterThreshold:
                try driver.completeInterval(with: .fail(reason: "bad"))
                try driver.completeInterval(with: .fail(reason: "bad"))
                try driver.answer(.postRollout, .passed, 70)
            case .pauseAndResume:
                driver.send { $0.pause(now: t(5)) }
                driver.send { $0.resume(now: t(6)) }
            case .pausePromotingAndResume:
                driver.send { $0.promote(now: t(5)) }
                driver.send { $0.pause(now: t(6)) }
                driver.send { $0.resume(now: t(7)) }
                try driver.answer(.postRollout, .passed, 8)
            case .abortWhilePaused:
                driver.send { $0.pause(now: t(5)) }
                driver.send { $0.abort(now: t(6)) }
                try driver.answer(.postRollout, .passed, 7)
            case .promoteWhilePaused:
                driver.send { $0.pause(now: t(5)) }
                driver.send { $0.promote(now: t(6)) }
                try driver.answer(.postRollout, .passed, 7)
            case .abortWhilePromoting:
                driver.send { $0.promote(now: t(5)) }
                driver.send { $0.abort(now: t(6)) }
                try driver.answer(.postRollout, .passed, 7)
            case .restartAfterSuccess:
                driver.send { $0.promote(now: t(5)) }
                try driver.answer(.postRollout, .passed, 6)
                driver.send { $0.restart(now: t(7)) }
            case .restartAfterFailure:
                driver.send { $0.abort(now: t(5)) }
                try driver.answer(.postRollout, .passed, 6)
                driver.send { $0.restart(now: t(7)) }
            case .skipAnalysis:
                try driver.answer(.postRollout, .passed, 1)
            case .progressDeadline:
                driver.tick(30)
                driver.verdict(.inconclusive(reason: "quiet"), 30)
                driver.tick(120)
                try driver.answer(.postRollout, .passed, 121)
            }
            return driver
        }
    }

    @Test("every phase transition happens through the events that cause it", arguments: Scenario.allCases)
    func phaseTransitions(scenario: Scenario) throws {
        let driver = try scenario.run()
        #expect(driver.log.phases == scenario.expectedPhases)
        #expect(driver.rollout.status.phase == scenario.expectedPhases.last)
        #expect(driver.rejections == (scenario == .restartAfterSuccess
            ? [.releaseConflict(.canaryAlreadyServes(Fixture.canary))] : []))
        let finished = scenario.expectedPhases.last.map { $0.isFinished ? [$0] : [] } ?? []
        #expect(driver.log.finished.suffix(finished.count) == finished[...])
    }

    @Test("final weights match the outcome", arguments: [
        (Scenario.promoteAfterAllSteps, 100), (.rollBackAfterThreshold, 0), (.abortWhilePromoting, 0), (.skipAnalysis, 100),
        (.restartAfterSuccess, 100), (.restartAfterFailure, 10), (.pauseAndResume, 10),
    ])
    func finalWeights(scenario: Scenario, canaryWeight: Int) throws {
        let driver = try scenario.run()
        #expect(driver.rollout.status.canaryWeight == canaryWeight)
        #expect(driver.log.canaryWeights.last == canaryWeight)
    }

    @Test("skipAnalysis promotes straight away without pre-rollout hooks or analysis")
    func skipAnalysis() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.preRollout)], skipAnalysis: true))
        driver.start(0)
        #expect(driver.log.canaryWeights == [0, 100])
        #expect(driver.log.webhookRuns.isEmpty)
        driver.send { $0.weightsApplied($0.split, now: t(0)) }
        #expect(driver.log.messages == [
            "web: rollout started: canary web-v2-service, stable web-v1-service",
            "web: analysis skipped, promoting canary web-v2-service to 100%",
            "web: promotion completed: all traffic on canary web-v2-service",
        ])
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("a rollout that cannot decide never promotes")
    func inconclusiveNeverPromotes() throws {
        var driver = Driver(try Fixture.rollout(weights: [50], deadline: .seconds(3_600)))
        driver.start(0)
        for _ in 0..<50 { try driver.completeInterval(with: .inconclusive(reason: "no traffic")) }
        #expect(driver.rollout.status.phase == .progressing)
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(!driver.log.phases.contains(.promoting))
    }
}

extension RolloutLifecycleTests {
    @Test("a new canary after a finished release is announced as a rollout started; the same canary run again as restarted")
    func startedOrRestarted() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.abort(now: t(1)) }
        driver.send { $0.restart(now: t(2)) }
        #expect(driver.log.messages.contains { $0.hasPrefix("web: rollout restarted: canary web-v2-service") }, "\(driver.log.messages)")
        driver.send { $0.promote(now: t(3)) }
        #expect(driver.rollout.status.phase == .succeeded, "\(driver.log.messages)")
        var next = driver.rollout.spec
        next.stable = nil
        next.canary = Fixture.nextCanary
        driver.send { $0.specChanged(next, now: t(200)) }
        driver.send { $0.restart(now: t(201)) }
        #expect(driver.log.messages.contains { $0.hasPrefix("web: rollout started: canary web-v3-service") }, "\(driver.log.messages)")
    }
}
