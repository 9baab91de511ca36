import SerinCore
import SerinTesting
import Testing

/// The manual clock the controller's tests stand on: time moves only when advanced, sleepers wake exactly at
/// their deadlines, and `advance` returns only once a woken loop is asleep again.
@Suite("Manual clock", .timeLimit(.minutes(1)))
struct ManualClockTests {
    @Test("time stands still until advanced; a sleeper wakes once time reaches its deadline, not before")
    func wakesAtDeadline() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(100)))
        let woke = CallLog()
        // A loop like the controller's ticker: it sleeps again as soon as it wakes.
        let sleeper = Task {
            var round = 0
            while true {
                try await clock.sleep(for: .seconds(10))
                round += 1
                woke.record("round \(round) at \(clock.now())")
            }
        }
        await clock.sleepers(1)
        #expect(clock.now() == RolloutInstant(sinceEpoch: .seconds(100)))
        await clock.advance(by: .seconds(9))
        #expect(woke.entries.isEmpty)
        await clock.advance(by: .seconds(1))
        #expect(woke.entries == ["round 1 at t+1m50s"], "advance returns once the woken loop sleeps again")
        await clock.advance(by: .seconds(25))
        #expect(woke.entries == ["round 1 at t+1m50s", "round 2 at t+2m15s"], "one jump wakes a sleeper once")
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test("a sleeper cancelled before or while it sleeps throws CancellationError and leaves the clock")
    func cancellation() async throws {
        let clock = ManualClock()
        let asleep = Task { try await clock.sleep(for: .seconds(10)) }
        await clock.sleepers(1)
        asleep.cancel()
        await #expect(throws: CancellationError.self) { try await asleep.value }
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(10))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        // Nobody sleeps any more, so moving time has no one to wait for.
        await clock.advance(by: .seconds(60))
    }
}
