/// Why the rollout refused an input, as data: a command that makes no sense in this phase, a late
/// answer, an invalid spec. Never a crash, never silently dropped.
public enum RolloutRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case commandNotAllowed(RolloutCommand, phase: RolloutPhase)
    /// A webhook result for a request the rollout no longer waits on (it moved on, paused or restarted).
    case staleResult(RolloutTicket)
    /// A verdict where none can count: no canary traffic yet, not progressing, or a pass while a gate decides.
    case verdictNotExpected(phase: RolloutPhase, stage: RolloutStage)
    case invalidSpec(CanarySpecError)
    /// The spec or command would release from something other than what serves now.
    case releaseConflict(ReleaseConflict)
    /// A command that would move a rollout whose Canary is suspended (`spec.suspend`): only the spec lifts it.
    case suspended(RolloutCommand)

    public var description: String {
        switch self {
        case .commandNotAllowed(let command, let phase):
            return "cannot \(command) while \(phase): \(Self.why(command, phase))"
        case .staleResult(let ticket):
            return "result for request \(ticket) arrived after the rollout moved on; ignored"
        case .verdictNotExpected(let phase, let stage):
            switch (phase, stage) {
            case (.progressing, .confirmRollout), (.progressing, .preRollout):
                return "verdict ignored: the canary has no traffic yet (\(stage))"
            case (.progressing, _):
                return "verdict ignored: the step already passed, waiting for the \(stage) gate"
            default:
                return "verdict ignored: the rollout is \(phase), not analysing"
            }
        case .invalidSpec(let error):
            return "invalid Canary spec: \(error)"
        case .releaseConflict(let conflict):
            return conflict.description
        case .suspended(let command):
            return "cannot \(command): spec.suspend is true: set it to false to resume"
        }
    }

    private static func why(_ command: RolloutCommand, _ phase: RolloutPhase) -> String {
        switch (command, phase) {
        case (_, .initialized): return "the rollout has not started"
        case (.start, _): return "already started; use `rollout` to start again"
        case (.resume, _): return "not paused"
        case (.pause, .paused): return "already paused"
        case (.promote, .promoting), (.promote, .paused): return "already promoting"
        case (.abort, .rollingBack): return "already rolling back"
        case (_, .rollingBack): return "a rollback always runs to the end"
        case (_, .succeeded): return "already promoted; set a new spec.canary to release the next version"
        case (_, .failed): return "already rolled back; use `rollout` to start again"
        default: return "not possible in this phase"
        }
    }
}
