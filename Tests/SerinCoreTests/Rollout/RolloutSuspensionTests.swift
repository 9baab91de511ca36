import Foundation
import SerinCore
import SerinTesting
import Testing

/// Flagger's `spec.suspend`: the rollout holds while the spec says so, and goes on once it no longer does.
@Suite("Rollout suspension")
struct RolloutSuspensionTests {
    static func spec(suspend: Bool, canary: Destination = Fixture.canary, webhooks: [WebhookSpec] = []) throws -> CanarySpec {
        var spec = try Fixture.spec(webhooks: webhooks, canary: canary)
        spec.suspend = suspend
        return spec
    }

    /// Started at 0, at canary weight 50% from 30 (its next check due at 60).
    static func atFifty(webhooks: [WebhookSpec] = []) throws -> Driver {
        var driver = Driver(try Rollout(spec: spec(suspend: false, webhooks: webhooks)))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 50)
        return driver
    }

    @Test("a rollout suspended mid-way holds at its weight: Paused, nothing checked across ticks, the held time not counted towards the progress deadline; unsuspended it resumes as resume would")
    func suspensionHoldsThenResumes() throws {
        var driver = try Self.atFifty()
        let suspended = driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        #expect(suspended.actions.phases == [.paused])
        #expect(suspended.actions.messages == ["web: suspended: spec.suspend is true; the rollout holds at canary weight 50% until it is false"])
        #expect(driver.rollout.status.suspended == true)
        #expect(driver.rollout.nextWakeUp == nil)
        // Far past the 600 s progress deadline counted from the step at 30: nothing is asked, nothing moves.
        let logged = driver.log.count
        for at in stride(from: 60, through: 1200, by: 30) { driver.tick(at) }
        #expect(driver.log.count == logged)
        #expect(driver.rollout.status.phase == .paused)
        #expect(driver.rollout.status.canaryWeight == 50)

        let resumed = driver.send { $0.specChanged(try! Self.spec(suspend: false), now: t(1200)) }
        #expect(resumed.actions.phases == [.progressing])
        #expect(resumed.actions.messages == ["web: resumed: spec.suspend is false, at canary weight 50%"])
        #expect(driver.rollout.status.suspended == nil)
        #expect(driver.rollout.status.nextCheckAt == t(1230))
        #expect(driver.rejections.isEmpty)
        // A whole interval of new data, not a deadline already spent: the next check asks for an analysis.
        let check = driver.tick(1230)
        #expect(check.actions.analysisRequests.count == 1)
        #expect(driver.rollout.status.phase == .progressing)
    }

    @Test("a settings change of the routes (stickiness) made while suspended leaves the routes as they are, and reaches them at once on unsuspending, not at the next step")
    func routeSettingsWhileSuspendedApplyOnUnsuspending() throws {
        var driver = try Self.atFifty()
        driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        var sticky = try Self.spec(suspend: true)
        sticky.analysis.stickiness = .header("x-user-id")
        let changed = driver.send { $0.specChanged(sticky, now: t(50)) }
        #expect(changed.actions.canaryWeights.isEmpty, "suspended: the routes stay as they are")
        sticky.suspend = false
        let resumed = driver.send { $0.specChanged(sticky, now: t(60)) }
        let splits = resumed.actions.compactMap { action -> TrafficSplit? in
            if case .setWeights(let split) = action { return split } else { return nil }
        }
        #expect(splits.map(\.stickiness) == [.header("x-user-id")] && splits.map(\.canary.weight) == [50], "\(resumed.actions)")
        #expect(driver.rollout.status.routesHeld == nil)
        // Unsuspended with nothing of the routes changed meanwhile: no weights sent again.
        sticky.suspend = true
        driver.send { [sticky] in $0.specChanged(sticky, now: t(70)) }
        sticky.suspend = false
        let again = driver.send { $0.specChanged(sticky, now: t(80)) }
        #expect(again.actions.canaryWeights.isEmpty, "\(again.actions)")
    }

    @Test("a rollout a person paused before the suspension stays paused after it; serin resume then continues it")
    func personsPauseSurvivesSuspension() throws {
        var driver = try Self.atFifty()
        driver.send { $0.pause(now: t(35)) }
        let suspended = driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        #expect(suspended.actions.phases.isEmpty)
        #expect(suspended.actions.messages == [
            "web: suspended: spec.suspend is true; paused by serin pause at canary weight 50%, the rollout stays paused once it is false, until serin resume",
        ])
        #expect(driver.rollout.status.suspended == nil)
        let lifted = driver.send { $0.specChanged(try! Self.spec(suspend: false), now: t(50)) }
        #expect(lifted.actions.phases.isEmpty)
        #expect(lifted.actions.messages == ["web: spec.suspend is false; the rollout stays paused at canary weight 50% until serin resume"])
        #expect(driver.rollout.status.phase == .paused)
        let resumed = driver.send { $0.resume(now: t(60)) }
        #expect(resumed.actions.phases == [.progressing])
        #expect(driver.rejections.isEmpty)
    }

    @Test("serin pause while suspended is accepted and makes the hold a person's: the rollout stays paused once spec.suspend is false")
    func pauseWhileSuspendedOutlastsIt() throws {
        var driver = try Self.atFifty()
        driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        let paused = driver.send { $0.pause(now: t(45)) }
        #expect(paused.actions.messages == ["web: paused at canary weight 50%: it stays paused once spec.suspend is false, until serin resume"])
        driver.send { $0.specChanged(try! Self.spec(suspend: false), now: t(50)) }
        #expect(driver.rollout.status.phase == .paused)
        #expect(driver.rejections.isEmpty)
    }

    @Test("resume, promote and rollout are refused while suspended, saying to set spec.suspend to false; abort is accepted and its rollback runs")
    func commandsWhileSuspended() throws {
        var driver = try Self.atFifty()
        driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        for command in [RolloutCommand.resume, .promote, .restart] {
            let outcome = driver.send { $0.execute(command, now: t(41)) }
            #expect(outcome.rejection == .suspended(command))
            #expect(outcome.rejection?.description == "cannot \(command): spec.suspend is true: set it to false to resume")
        }
        #expect(driver.rollout.status.phase == .paused)
        let aborted = driver.send { $0.abort(now: t(42)) }
        #expect(aborted.actions.canaryWeights == [0])
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.suspended == nil)
    }

    @Test("a rollback in progress is not held by spec.suspend: it runs to the end")
    func rollbackIsNotHeld() throws {
        var driver = try Self.atFifty(webhooks: [Fixture.hook(.postRollout)])
        driver.send { $0.abort(now: t(35)) }
        #expect(driver.rollout.status.phase == .rollingBack)
        let suspended = driver.send { $0.specChanged(try! Self.spec(suspend: true, webhooks: [Fixture.hook(.postRollout)]), now: t(40)) }
        #expect(suspended.actions.phases.isEmpty)
        #expect(suspended.actions.messages == ["web: suspended: spec.suspend is true; the rollback in progress still runs to the end: it restores stable traffic"])
        #expect(driver.rollout.status.phase == .rollingBack)
        try driver.answer(.postRollout, .passed, 41)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rejections.isEmpty)
    }

    @Test("a new canary applied to a suspended rollout in progress starts no release; once spec.suspend is false it is released from the first step")
    func newReleaseWaitsMidRollout() throws {
        var driver = try Self.atFifty()
        driver.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        let held = driver.send { $0.specChanged(try! Self.spec(suspend: true, canary: Fixture.nextCanary), now: t(50)) }
        #expect(held.actions.messages == ["web: suspended: spec.suspend is true; the new release of canary web-v3-service waits until it is false"])
        #expect(held.actions.canaryWeights.isEmpty)
        #expect(driver.rollout.status.canary == Fixture.canary)
        #expect(driver.rollout.status.canaryWeight == 50)

        let released = driver.send { $0.specChanged(try! Self.spec(suspend: false, canary: Fixture.nextCanary), now: t(60)) }
        #expect(driver.rollout.status.canary == Fixture.nextCanary)
        #expect(driver.rollout.status.phase == .progressing)
        #expect(released.actions.canaryWeights.first == 0)
        #expect(released.actions.messages.first?.contains("spec.suspend is false: canary web-v3-service, held back meanwhile, releasing it") == true)
        #expect(driver.rejections.isEmpty)
    }

    @Test("after a promotion, a new canary applied while suspended is not a release to start, and promote, pause and resume are refused for the suspension; unsuspended it is")
    func newReleaseWaitsAfterPromotion() throws {
        var driver = try Self.atFifty()
        driver.send { $0.promote(now: t(35)) }
        #expect(driver.rollout.status.phase == .succeeded)
        // v2 serves now: the written stable (v1) is left out, as a release after a promotion is written.
        var next = try Self.spec(suspend: true, canary: Fixture.nextCanary)
        next.stable = nil
        #expect(!driver.rollout.startsRelease(with: next))
        let held = driver.send { $0.specChanged(next, now: t(40)) }
        #expect(held.actions.messages == [
            "web: suspended: spec.suspend is true; no new release starts until it is false",
            "web: suspended: spec.suspend is true; the new release of canary web-v3-service waits until it is false",
        ])
        #expect(driver.send { $0.restart(now: t(41)) }.rejection == .suspended(.restart))
        // The commands are about the release held back, refused for the suspension (not "already promoted").
        #expect(driver.send { $0.promote(now: t(42)) }.rejection == .suspended(.promote))
        #expect(driver.send { $0.pause(now: t(42)) }.rejection == .suspended(.pause))
        #expect(driver.send { $0.resume(now: t(42)) }.rejection == .suspended(.resume))

        var unsuspended = next
        unsuspended.suspend = false
        #expect(driver.rollout.startsRelease(with: unsuspended))
        driver.send { $0.specChanged(unsuspended, now: t(50)) }
        let started = driver.send { $0.restart(now: t(50)) }
        #expect(started.actions.phases == [.progressing])
        #expect(driver.rollout.status.canary == Fixture.nextCanary)
        #expect(driver.rollout.status.releaseHeld == nil)
    }

    @Test("a Canary suspended before it starts releases nothing, says so once, and starts once spec.suspend is false")
    func startWaitsForTheSpec() throws {
        var driver = Driver(try Rollout(spec: Self.spec(suspend: true)))
        let held = driver.start(0)
        #expect(held.actions.messages == ["web: suspended: spec.suspend is true; canary web-v2-service is not released until it is false"])
        #expect(held.actions.canaryWeights.isEmpty)
        #expect(!driver.rollout.awaitsStart)
        #expect(driver.start(1).actions.isEmpty)
        #expect(driver.rollout.status.phase == .initialized)

        driver.send { $0.specChanged(try! Self.spec(suspend: false), now: t(10)) }
        #expect(driver.rollout.awaitsStart)
        let started = driver.start(10)
        #expect(started.actions.phases == [.progressing])
        #expect(started.actions.canaryWeights == [0, 10])
    }

    @Test("Flagger's shape suspended at first sight asks for no primary and scales nothing until spec.suspend is false")
    func workloadBaselineWaits() throws {
        var suspended = try RolloutFixture.workloadSpec(revision: "r1")
        suspended.suspend = true
        var driver = Driver(try Rollout(spec: suspended))
        let held = driver.start(0)
        #expect(held.actions.messages == ["podinfo: suspended: spec.suspend is true; podinfo is not initialized until it is false"])
        #expect(!held.actions.contains { if case .promoteWorkload = $0 { true } else if case .scaleWorkload = $0 { true } else { false } })
        driver.send { $0.specChanged(try! RolloutFixture.workloadSpec(revision: "r1"), now: t(5)) }
        let started = driver.start(5)
        #expect(started.actions.contains { if case .promoteWorkload = $0 { true } else { false } })
    }

    @Test("a rollout stored before spec.suspend existed decodes as not suspended; a suspended one keeps its hold across a store")
    func olderStoredStateDecodes() throws {
        let driver = try Self.atFifty()
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(driver.rollout)) as? [String: Any])
        var spec = try #require(json["spec"] as? [String: Any])
        spec["suspend"] = nil
        json["spec"] = spec
        let older = try JSONDecoder().decode(Rollout.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(older == driver.rollout)
        #expect(!older.spec.suspend)
        #expect(older.status.suspended == nil)

        var suspended = driver
        suspended.send { $0.specChanged(try! Self.spec(suspend: true), now: t(40)) }
        let restored = try suspended.storedAndRestored()
        #expect(restored.status.suspended == true)
        #expect(restored.spec.suspend)
    }
}
