/// The controller's time: `now` for the state machine, and sleeping between ticks.
public protocol ControllerClock: Sendable {
    func now() -> RolloutInstant
    func sleep(for duration: Duration) async throws
}
