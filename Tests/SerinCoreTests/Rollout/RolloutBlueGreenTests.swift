import Foundation
import SerinCore
import Testing

/// Blue/green (`analysis.iterations`): the canary takes no live traffic while each passing analysis counts one
/// iteration, then promotion switches 0 → 100 at once; a rollback has nothing to take back.
@Suite("Rollout blue/green")
struct RolloutBlueGreenTests {
    static func rollout(iterations: Int = 3, threshold: Int = 2, webhooks: [WebhookSpec] = []) throws -> Rollout {
        var spec = try Fixture.spec(threshold: threshold, webhooks: webhooks)
        spec.analysis.schedule = try WeightSchedule(iterations: iterations)
        return try Rollout(spec: spec)
    }

    @Test("the canary stays at 0% through every iteration and takes all traffic at once after the last one passes")
    func passingIterationsSwitchAtOnce() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        for iteration in 1...3 {
            #expect(driver.rollout.status.stepIndex == iteration - 1)
            #expect(driver.rollout.status.canaryWeight == 0)
            try driver.completeInterval(with: .pass)
        }
        #expect(driver.log.canaryWeights == [0, 100])
        #expect(driver.log.analysisRequests.map(\.canaryWeight) == [0, 0, 0])
        #expect(driver.log.phases == [.progressing, .promoting, .succeeded])
        #expect(driver.rollout.status.iteration == 3)
        let messages = driver.log.messages
        #expect(messages.contains("web: iteration 1/3: canary web-v2-service takes no live traffic, only the webhooks' tests"))
        #expect(messages.contains("web: iteration 3/3: canary web-v2-service takes no live traffic, only the webhooks' tests"))
        #expect(messages.contains("web: all 3 iterations passed, promoting canary web-v2-service to 100%"))
        #expect(!messages.contains { $0.contains("advance canary weight") })
        // With analysis.load, its requests reach the canary too, and the event says so.
        var loaded = try Self.rollout(iterations: 2).spec
        loaded.analysis.load = SyntheticLoad(rps: 5)
        var withLoad = Driver(try Rollout(spec: loaded))
        withLoad.start(0)
        #expect(withLoad.log.messages.contains(
            "web: iteration 1/2: canary web-v2-service takes no live traffic, only analysis.load's requests and the webhooks' tests"),
            "\(withLoad.log.messages)")
    }

    @Test("a failed check is no iteration and counts towards the threshold; the rollback finds the canary with no live traffic")
    func failuresRollBack() throws {
        var driver = Driver(try Self.rollout(iterations: 3, threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.stepIndex == 1)
        #expect(driver.rollout.status.phase == .progressing)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.log.canaryWeights.allSatisfy { $0 == 0 })
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.failedChecks == 2)
        #expect(driver.rollout.status.releases.last?.outcome == .rolledBack)
    }

    @Test("no confirm-traffic-increase gate stands between iterations; the confirm-promotion gate holds the switch")
    func gates() throws {
        let hooks = [Fixture.hook(.confirmTrafficIncrease), Fixture.hook(.confirmPromotion)]
        var driver = Driver(try Self.rollout(iterations: 2, webhooks: hooks))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.webhookRuns.map(\.type) == [.confirmPromotion])
        #expect(driver.rollout.status.canaryWeight == 0)
        try driver.answer(.confirmPromotion, .failed(reason: "waiting for the release manager"), 61)
        #expect(driver.rollout.status.canaryWeight == 0)
        driver.tick(91)
        try driver.answer(.confirmPromotion, .passed, 92)
        #expect(driver.log.canaryWeights == [0, 100])
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("a blue/green rollout stored mid-analysis is restored at the same iteration and goes on from there")
    func persistence() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        var restored = try driver.storedAndRestored()
        #expect(restored.spec.analysis.schedule.isBlueGreen)
        #expect(restored.tick(now: t(60)) == driver.rollout.tick(now: t(60)))
    }

    @Test("state stored before iterations existed decodes to the same weight schedules")
    func oldSchedulesDecode() throws {
        let linear = try JSONDecoder().decode(WeightSchedule.self, from: Data(#"{"linear":{"stepWeight":10,"maxWeight":30}}"#.utf8))
        #expect(linear == (try WeightSchedule(stepWeight: 10, maxWeight: 30)))
        #expect(!linear.isBlueGreen)
        let explicit = try JSONDecoder().decode(WeightSchedule.self, from: Data(#"{"explicit":{"_0":[5,50]}}"#.utf8))
        #expect(explicit.weights == [5, 50])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WeightSchedule.self, from: Data(#"{"iterations":{"_0":0}}"#.utf8))
        }
    }
}
