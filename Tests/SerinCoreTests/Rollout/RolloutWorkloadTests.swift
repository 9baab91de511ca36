import SerinCore
import SerinTesting
import Testing

/// Flagger's shape: the Canary targets a Deployment; the primary always serves and promotion copies into it.
@Suite("Workload releases")
struct RolloutWorkloadTests {
    static let target = ResourceName(namespace: "shop", name: "podinfo")
    static let primary = ResourceName(namespace: "shop", name: "podinfo-primary")

    static func spec(revision: String) throws -> CanarySpec {
        try RolloutFixture.workloadSpec(revision: revision)
    }

    /// The sizes the target was scaled to, in order.
    static func scalings(_ driver: Driver) -> [WorkloadScaling.Size] {
        driver.log.compactMap { if case .scaleWorkload(let scaling) = $0 { return scaling.size } else { return nil } }
    }

    /// Revision r1 seen first (the baseline), then r2 released as the controller does it: the new spec, then
    /// `rollout` of the settled Canary; the target is ready for the first step.
    static func releasingR2() throws -> Driver {
        var driver = try askingForR2()
        try ready(&driver, 11)
        return driver
    }

    /// As `releasingR2`, but the first step's readiness check not answered yet.
    static func askingForR2() throws -> Driver {
        var driver = Driver(try Rollout(spec: spec(revision: "r1")))
        driver.start(0)
        try primaryAnswers(&driver, ready: true, at: 1)
        driver.send { $0.specChanged(try! spec(revision: "r2"), now: t(10)) }
        driver.send { $0.restart(now: t(10)) }
        return driver
    }

    /// The newest readiness check the rollout asked for.
    static func check(_ driver: Driver) throws -> WorkloadCheck {
        try #require(driver.log.compactMap { action -> WorkloadCheck? in
            if case .checkWorkload(let check) = action { return check } else { return nil }
        }.last)
    }

    /// Answers the readiness check the step asked for.
    static func ready(_ driver: inout Driver, _ at: Int) throws {
        let check = try check(driver)
        driver.send { $0.workloadChecked(ticket: check.ticket, ready: true, reason: "ready", now: t(at)) }
    }

    /// Answers the newest `promoteWorkload`.
    static func primaryAnswers(_ driver: inout Driver, ready: Bool, reason: String = "ready", at: Int) throws {
        let promotion = try promotion(driver)
        driver.send { $0.primaryUpdated(ticket: promotion.ticket, ready: ready, reason: reason, now: t(at)) }
    }

    static func promotion(_ driver: Driver) throws -> WorkloadPromotion {
        try #require(driver.log.compactMap { action -> WorkloadPromotion? in
            if case .promoteWorkload(let promotion) = action { return promotion } else { return nil }
        }.last)
    }

    @Test("a new service.port mid-release is the same release on another port: its step and weights stay and the routes go to the new port")
    func newPortKeepsTheRelease() throws {
        var driver = try Self.releasingR2()
        #expect(driver.rollout.status.stepIndex == 0 && driver.rollout.status.canaryWeight == 10)
        var moved = try Self.spec(revision: "r2")
        moved.stable?.port = 8080
        moved.canary.port = 8080
        moved.workload?.port = 8080
        let before = try Self.spec(revision: "r2")
        #expect(!before.isNewRevision(comparedTo: moved))
        driver.send { $0.specChanged(moved, now: t(100)) }
        #expect(driver.rollout.status.stepIndex == 0 && driver.rollout.status.canaryWeight == 10 && driver.rollout.status.phase == .progressing)
        let split = driver.rollout.split
        #expect(split.stable.destination.port == 8080 && split.canary.destination.port == 8080)
        #expect(split.stable.weight == 90 && split.canary.weight == 10)
        #expect(driver.log.messages.last == "podinfo: service port changed from 9898 to 8080: the routes follow it, the release goes on")
        // Another canary host is another version: that is a release again.
        var other = moved
        other.canary.host = "podinfo-next"
        #expect(moved.isNewRevision(comparedTo: other))
    }

    @Test("its analysis names the Service clients call, service.name else the target's name, for a MetricTemplate's {{ service }}; a service pair names none")
    func analysisNamesTheApexService() throws {
        var named = try Self.spec(revision: "r1")
        named.workload = CanaryWorkload(deployment: "podinfo", revision: "r1", port: 9898, service: "frontend")
        named.targetRef = ResourceName(namespace: "shop", name: "frontend")
        named.stable = Destination(host: "frontend-primary", port: 9898)
        named.canary = Destination(host: "frontend-canary", port: 9898)
        for (spec, apex) in [(named, "frontend"), (try Self.spec(revision: "r1"), "podinfo")] {
            var driver = Driver(try Rollout(spec: spec))
            driver.start(0)
            try Self.primaryAnswers(&driver, ready: true, at: 1)
            var released = spec
            released.workload?.revision = "r2"
            driver.send { $0.specChanged(released, now: t(10)) }
            driver.send { $0.restart(now: t(10)) }
            try Self.ready(&driver, 11)
            driver.tick(41)
            let request = try #require(driver.log.analysisRequests.last)
            #expect(request.apexService == apex)
            #expect(request.canaryWorkload == "podinfo")
        }
        var pair = Driver(try Fixture.rollout())
        pair.start(0)
        try pair.completeInterval(with: .pass)
        #expect(pair.log.analysisRequests.last?.apexService == nil)
    }

    @Test("each step asks for the primary as well as the canary, as Flagger does: a primary not ready holds the step saying so, and the next interval asks again")
    func primaryReadinessBeforeEachStep() throws {
        var driver = try Self.askingForR2()
        let check = try Self.check(driver)
        #expect(check.deployment == Self.target && check.primary == Self.primary)
        #expect(check.primaryReadyThreshold == AnalysisSpec.defaultReadyThreshold)
        driver.send {
            $0.workloadChecked(ticket: check.ticket, ready: false, reason: "1 of 2 updated replicas are available", primaryNotReady: true, now: t(11))
        }
        #expect(driver.rollout.status.message == "podinfo: waiting for primary Deployment podinfo-primary: 1 of 2 updated replicas are available")
        #expect(driver.rollout.status.canaryWeight == 0 && driver.log.canaryWeights.last == 0)
        // The next interval asks again; ready now, the step is taken.
        let asked = driver.log.count
        driver.tick(41)
        #expect(driver.log.dropFirst(asked).contains { if case .checkWorkload = $0 { true } else { false } })
        try Self.ready(&driver, 42)
        #expect(driver.rollout.status.canaryWeight == 10)
    }

    @Test("first sight is no release: all traffic on the primary, the target scaled to zero once it is ready, and it stays so")
    func firstSightIsBaseline() throws {
        var driver = Driver(try Rollout(spec: Self.spec(revision: "r1")))
        driver.start(0)
        #expect(driver.rollout.status.phase == .initialized)
        #expect(driver.rollout.status.isBaseline)
        #expect(driver.log.canaryWeights == [0])
        // The target keeps its pods until the primary, created from its template, is ready.
        #expect(try Self.promotion(driver).purpose == .baseline)
        #expect(Self.scalings(driver).isEmpty)
        try Self.primaryAnswers(&driver, ready: false, reason: "0 of 2 new replicas have been updated", at: 5)
        #expect(Self.scalings(driver).isEmpty)
        #expect(driver.rollout.status.message
            == "podinfo: waiting for podinfo-primary to be ready before scaling podinfo to zero: 0 of 2 new replicas have been updated")
        // Asked again soon (10s, not the 30s interval): nothing is judged while a primary rolls out.
        #expect(driver.rollout.nextWakeUp == t(15))
        driver.tick(15)
        try Self.primaryAnswers(&driver, ready: true, at: 16)
        #expect(Self.scalings(driver) == [.zero])
        #expect(driver.rollout.status.isBaseline)
        #expect(driver.rollout.nextWakeUp == nil)
        #expect(driver.rollout.status.stableRevision == "r1")
        #expect(driver.send { $0.start(now: t(1)) } == .accepted([]))
        #expect(driver.rollout.status.releases.isEmpty)
    }

    @Test("a controller restarted while the primary is asked for (baseline or promotion) asks again, never forgets")
    func restartWhilePrimaryIsAskedAsksAgain() throws {
        var baseline = Driver(try Rollout(spec: Self.spec(revision: "r1")))
        baseline.start(0)
        var promoting = try Self.releasingR2()
        try promoting.completeInterval(with: .pass)
        try Self.ready(&promoting, 45)
        try promoting.completeInterval(with: .pass)
        for (driver, purpose) in [(baseline, WorkloadPromotion.Purpose.baseline), (promoting, .promotion)] {
            let asked = try Self.promotion(driver)
            var restarted = Driver(driver.rollout)
            restarted.send { $0.restored(now: t(100)) }
            let again = try Self.promotion(restarted)
            #expect(again.ticket != asked.ticket)
            #expect(again.purpose == purpose)
            try Self.primaryAnswers(&restarted, ready: true, at: 101)
            #expect(Self.scalings(restarted).last == .zero)
        }
    }

    @Test("a new revision scales the target up, waits for it, shifts weight, copies it to the primary and routes back")
    func newRevisionPromotes() throws {
        var driver = try Self.releasingR2()
        #expect(Self.scalings(driver) == [.zero, .likePrimary])
        #expect(driver.rollout.status.canaryWeight == 10)
        try driver.completeInterval(with: .pass)
        try Self.ready(&driver, 45)
        try driver.completeInterval(with: .pass)
        // Promotion: the weights stay while the primary rolls the new template out.
        #expect(driver.rollout.status.phase == .promoting)
        #expect(driver.rollout.status.canaryWeight == 50)
        let promotion = try Self.promotion(driver)
        #expect(promotion.target == Self.target && promotion.primary == Self.primary)
        driver.send { $0.primaryUpdated(ticket: promotion.ticket, ready: false, reason: "1 of 2 new replicas have been updated", now: t(80)) }
        #expect(driver.rollout.status.phase == .promoting)
        #expect(driver.rollout.status.message == "podinfo: waiting for podinfo-primary: 1 of 2 new replicas have been updated")
        driver.tick(111)
        let again = try Self.promotion(driver)
        #expect(again.ticket != promotion.ticket)
        driver.send { $0.primaryUpdated(ticket: again.ticket, ready: true, reason: "2 of 2 replicas available", now: t(112)) }
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.log.canaryWeights.last == 0)
        #expect(Self.scalings(driver).last == .zero)
        #expect(driver.rollout.status.stableRevision == "r2")
        // The primary stays the stable.
        #expect(driver.rollout.status.servingStable == Destination(host: "podinfo-primary", port: 9898))
        #expect(driver.rollout.status.releases.map(\.summary) == [
            "podinfo-primary:9898 (r1) → podinfo-canary:9898 (r2) Promoted",
        ])
        // Rolling the same revision out again is refused: the primary already serves it.
        #expect(driver.send { $0.restart(now: t(200)) }.rejection == .releaseConflict(.revisionAlreadyServes(deployment: "podinfo", revision: "r2")))
    }

    @Test("a rollback routes everything to the primary and scales the target to zero; the primary keeps its revision")
    func rollbackScalesDown() throws {
        var driver = try Self.releasingR2()
        try driver.completeInterval(with: .fail(reason: "request-success-rate 60% < 99%"))
        try driver.completeInterval(with: .fail(reason: "request-success-rate 55% < 99%"))
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.canaryWeights.last == 0)
        #expect(Self.scalings(driver).last == .zero)
        #expect(driver.rollout.status.stableRevision == "r1")
    }

    @Test("a canary or primary Deployment whose rollout stalled past its own progress deadline rolls the release back at once, saying which, as Flagger does", arguments: [false, true])
    func stalledDeploymentRollsBack(primary: Bool) throws {
        var driver = try Self.askingForR2()
        let check = try Self.check(driver)
        driver.send {
            $0.workloadChecked(ticket: check.ticket, ready: false, reason: "its rollout exceeded its progress deadline", primaryNotReady: primary,
                               stalled: true, now: t(11))
        }
        #expect(driver.rollout.status.phase == .failed)
        let deployment = primary ? "primary Deployment podinfo-primary" : "canary Deployment podinfo"
        #expect(driver.rollout.status.releases.last?.reason == "\(deployment) is not ready: its rollout exceeded its progress deadline")
        #expect(driver.log.canaryWeights.last == 0)
        #expect(Self.scalings(driver).last == .zero)
    }

    @Test("a primary that stalls on the promoted revision fails the promotion with all traffic on the canary, whose pods stay; so does one still rolling out at the Canary's deadline", arguments: [true, false])
    func stalledPrimaryFailsThePromotion(stalled: Bool) throws {
        var driver = try Self.releasingR2()
        try driver.completeInterval(with: .pass)
        try Self.ready(&driver, 45)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.phase == .promoting && driver.rollout.status.canaryWeight == 50)
        let scaled = Self.scalings(driver)
        if stalled {
            let promotion = try Self.promotion(driver)
            driver.send {
                $0.primaryUpdated(ticket: promotion.ticket, ready: false, reason: "its rollout exceeded its progress deadline", stalled: true, now: t(80))
            }
        } else {
            try Self.primaryAnswers(&driver, ready: false, reason: "1 of 2 new replicas have been updated", at: 80)
            // The Canary's 600s progress deadline passes while the primary is asked again each interval.
            var at = 80
            while driver.rollout.status.phase == .promoting, at < 800 {
                at += 30
                driver.tick(at)
                if driver.rollout.status.pending != nil { try Self.primaryAnswers(&driver, ready: false, reason: "1 of 2 new replicas have been updated", at: at) }
            }
        }
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.canaryWeights.last == 100)
        #expect(Self.scalings(driver) == scaled, "the canary's pods must stay: they are all that serves")
        #expect(driver.rollout.status.stableRevision == "r1")
        let release = try #require(driver.rollout.status.releases.last)
        #expect(release.outcome == .promotionFailed)
        let reason = stalled
            ? "podinfo-primary is not ready: its rollout exceeded its progress deadline"
            : "podinfo-primary did not roll out the promoted revision within the 10m progress deadline: podinfo-primary is rolling out the promoted revision: 1 of 2 new replicas have been updated"
        #expect(release.reason == reason)
        #expect(driver.rollout.status.message == "podinfo: promotion failed: \(reason); routing all traffic to podinfo, which serves revision r2")
        // Its last word, once the router applied those weights, says where the traffic is.
        driver.send { $0.weightsApplied($0.split, now: t(900)) }
        #expect(driver.rollout.status.message == "podinfo: promotion failed: \(reason); all traffic on podinfo, which serves revision r2")
        #expect(driver.rollout.status.canaryWeight == 100)
    }
}
