import SerinCore
import Testing

/// A Canary naming its canary Deployment: no step before the Deployment is rolled out and available.
@Suite("Rollout waits for the canary Deployment")
struct RolloutWorkloadTests {
    static func rollout(deadline: Duration = .seconds(600)) throws -> Rollout {
        var spec = try Fixture.spec(weights: [10, 50], deadline: deadline)
        spec.canaryDeployment = "web-v2"
        return try Rollout(spec: spec)
    }

    static func checks(_ log: [RolloutAction]) -> [WorkloadCheck] {
        log.compactMap { if case .checkWorkload(let check) = $0 { check } else { nil } }
    }

    @Test("each step asks first; not ready holds with the reason and asks again next interval; ready takes the step")
    func waitsBeforeEachStep() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        #expect(driver.log.canaryWeights == [0], "only the initial 100/0 before the Deployment answered")
        let first = try #require(Self.checks(driver.log).last)
        #expect(first.deployment == ResourceName(namespace: "shop", name: "web-v2"))

        let held = driver.send { $0.workloadChecked(ticket: first.ticket, ready: false, reason: "0 of 2 new replicas have been updated", now: t(1)) }
        #expect(held.actions.messages == ["web: waiting for canary Deployment web-v2: 0 of 2 new replicas have been updated"])
        #expect(driver.rollout.status.holdReason == "canary Deployment web-v2 is not ready: 0 of 2 new replicas have been updated")
        #expect(driver.rollout.status.canaryWeight == 0)
        #expect(driver.rollout.status.failedChecks == 0, "waiting is not a failed check")
        driver.tick(30)
        #expect(Self.checks(driver.log).count == 1, "not asked again before the interval")
        driver.tick(31)
        let second = try #require(Self.checks(driver.log).last)
        #expect(Self.checks(driver.log).count == 2)

        driver.send { $0.workloadChecked(ticket: second.ticket, ready: true, reason: "2 of 2 replicas available", now: t(32)) }
        #expect(driver.rollout.status.canaryWeight == 10)
        #expect(driver.log.messages.last == "web: advance canary weight to 10%")

        // The next step asks again before its weight goes up.
        try driver.completeInterval(with: .pass)
        let third = try #require(Self.checks(driver.log).last)
        #expect(Self.checks(driver.log).count == 3)
        #expect(driver.rollout.status.canaryWeight == 10)
        driver.send { $0.workloadChecked(ticket: third.ticket, ready: true, reason: "ok", now: t(70)) }
        #expect(driver.rollout.status.canaryWeight == 50)
    }

    @Test("a Deployment that never gets ready fails the rollout at the progress deadline; a stale answer is refused")
    func deadlineAndStaleAnswers() throws {
        var driver = Driver(try Self.rollout(deadline: .seconds(90)))
        driver.start(0)
        let first = try #require(Self.checks(driver.log).last)
        driver.send { $0.workloadChecked(ticket: first.ticket, ready: false, reason: "0 of 1 updated replicas are available", now: t(1)) }
        driver.tick(31)
        let second = try #require(Self.checks(driver.log).last)
        // The first question's answer comes late: it no longer counts.
        let stale = driver.send { $0.workloadChecked(ticket: first.ticket, ready: true, reason: "late", now: t(32)) }
        #expect(stale == .rejected(.staleResult(first.ticket)))
        driver.send { $0.workloadChecked(ticket: second.ticket, ready: false, reason: "0 of 1 updated replicas are available", now: t(33)) }
        driver.tick(91)
        #expect(driver.rollout.status.phase == .failed || driver.rollout.status.phase == .rollingBack)
        #expect(driver.log.messages.contains { $0.contains("no progress within the 1m30s progress deadline") && $0.contains("canary Deployment web-v2 is not ready") })
    }
}
