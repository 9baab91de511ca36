import SerinCore
import Testing

/// A restart leaves a gap in a rollout's steps; its history says what filled it, where the rollout stood.
@Suite("Rollout history across a restart")
struct RolloutRestartHistoryTests {
    @Test("a rollout restored mid-release records that it resumed, at its step and weights, before it goes on; webhooks and the status's message hear nothing of it")
    func resumedRolloutRecordsTheRestart() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        let message = driver.rollout.status.message
        driver.rollout = try driver.storedAndRestored()
        let before = driver.log.count
        driver.send { $0.restored(now: t(300)) }
        let events = Array(driver.log.dropFirst(before)).events
        #expect(events.first == RolloutEvent(instant: t(300), severity: .normal, message: "web: resumed after a restart: Progressing at step 2/2, weights 50/50"))
        #expect(driver.rollout.status.message == message)
        #expect(!driver.log.dropFirst(before).contains { if case .notifyWebhooks = $0 { true } else { false } })
    }

    @Test("a finished rollout restored records nothing: nothing resumed")
    func finishedRolloutRecordsNothing() throws {
        var driver = Driver(try Fixture.rollout(weights: [10], threshold: 2))
        driver.start(0)
        driver.send { $0.promote(now: t(1)) }
        #expect(driver.rollout.status.phase.isFinished, "\(driver.log.messages)")
        driver.rollout = try driver.storedAndRestored()
        let before = driver.log.count
        driver.send { $0.restored(now: t(300)) }
        #expect(Array(driver.log.dropFirst(before)).events.isEmpty)
    }
}
