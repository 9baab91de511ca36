import Foundation
import SerinCore
import Testing

@Suite("Rollout persistence")
struct RolloutPersistenceTests {
    static func roundTrip(_ rollout: Rollout) throws -> Rollout {
        try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(rollout))
    }

    /// A rollout at 50% with one failed check, a closed gate behind it and an analysis in flight.
    static func midRollout() throws -> Driver {
        let hooks = [Fixture.hook(.confirmTrafficIncrease), Fixture.hook(.event)]
        var driver = Driver(try Fixture.rollout(weights: [10, 50, 80], threshold: 3, webhooks: hooks))
        driver.start(0)
        try driver.answer(.confirmTrafficIncrease, .passed, 0)
        try driver.completeInterval(with: .fail(reason: "slow"))
        try driver.completeInterval(with: .pass)
        try driver.answer(.confirmTrafficIncrease, .failed(reason: "not yet"), 61)
        // The closed gate's next interval is judged first; its pass asks the gate again.
        driver.tick(91)
        driver.verdict(.pass, 91)
        try driver.answer(.confirmTrafficIncrease, .passed, 92)
        driver.tick(122)
        return driver
    }

    @Test("a mid-rollout status survives a Codable round trip exactly")
    func roundTripIsExact() throws {
        let original = try Self.midRollout().rollout
        #expect(original.status.canaryWeight == 50)
        #expect(original.status.failedChecks == 1)
        #expect(original.status.pending?.kind == .analysis)
        let restored = try Self.roundTrip(original)
        #expect(restored == original)
        #expect(restored.status == original.status)
    }

    @Test("a restored rollout continues exactly as the original would", arguments: [
        Verdict.pass, .fail(reason: "slow"), .inconclusive(reason: "quiet"),
    ])
    func resumesIdentically(verdict: Verdict) throws {
        var original = try Self.midRollout().rollout
        var restored = try Self.roundTrip(original)
        let events: [(inout Rollout) -> RolloutOutcome] = [
            { $0.analysisCompleted(verdict: verdict, now: t(123)) },
            { $0.tick(now: t(153)) },
            { $0.analysisCompleted(verdict: .fail(reason: "slow"), now: t(154)) },
            { $0.tick(now: t(184)) },
            { $0.analysisCompleted(verdict: .fail(reason: "slow"), now: t(185)) },
        ]
        for event in events {
            #expect(event(&original) == event(&restored))
        }
        #expect(original == restored)
    }

    @Test("after a controller restart, weights are re-applied; the analysis in flight is asked again a whole interval later, with a new ticket, so it reads traffic seen since the restart")
    func restoredReissues() throws {
        var rollout = try Self.roundTrip(try Self.midRollout().rollout)
        let lost = try #require(rollout.status.pending?.ticket)
        let outcome = rollout.restored(now: t(200))
        #expect(outcome.actions.canaryWeights == [50])
        #expect(outcome.actions.analysisRequests.isEmpty)
        #expect(rollout.status.nextCheckAt == t(230))
        #expect(rollout.tick(now: t(229)).actions.analysisRequests.isEmpty)
        let request = try #require(rollout.tick(now: t(230)).actions.analysisRequests.first)
        #expect(request.ticket == RolloutTicket(lost.number + 1))
        #expect(request.canaryWeight == 50)
        #expect(rollout.status.pending?.ticket == request.ticket)
        #expect(rollout.analysisCompleted(verdict: .pass, now: t(231)).rejection == nil)
        #expect(rollout.status.stage == .confirmTrafficIncrease)
    }

    @Test("a progress deadline that would end before the first check after a restart ends an interval after it instead")
    func restartDoesNotSpendTheDeadline() throws {
        var rollout = try Self.roundTrip(try Self.midRollout().rollout)
        // The last progress was the gate opening at 92: the 600s deadline ends at 692, where the restart comes.
        _ = rollout.restored(now: t(692))
        #expect(rollout.tick(now: t(721)).actions.isEmpty)
        #expect(rollout.status.phase == .progressing)
        let request = try #require(rollout.tick(now: t(722)).actions.analysisRequests.first)
        #expect(rollout.analysisCompleted(verdict: .inconclusive(reason: "quiet"), now: t(723)).rejection == nil)
        #expect(request.canaryWeight == 50)
        _ = rollout.tick(now: t(752))
        #expect(rollout.status.phase == .rollingBack || rollout.status.phase == .failed, "the deadline still ends the rollout, an interval after the check")
    }

    @Test("restoring a rollout that was not started does nothing")
    func restoredIdle() throws {
        var rollout = try Fixture.rollout()
        #expect(rollout.restored(now: t(1)) == .accepted([]))
    }

    @Test("decoding refuses a store whose step is outside the schedule or whose schedule is invalid", arguments: [
        ("\"stepIndex\":1", "\"stepIndex\":7"),
        ("\"explicit\":{\"_0\":[10,50,80]}", "\"explicit\":{\"_0\":[50,10]}"),
        ("\"canaryWeight\":50", "\"canaryWeight\":150"),
        ("\"threshold\":3", "\"threshold\":0"),
    ])
    func corruptedStore(find: String, replace: String) throws {
        let json = String(decoding: try JSONEncoder().encode(try Self.midRollout().rollout), as: UTF8.self)
        #expect(json.contains(find))
        let corrupted = json.replacingOccurrences(of: find, with: replace)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Rollout.self, from: Data(corrupted.utf8)) }
    }
}
