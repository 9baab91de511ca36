/// What one event did to a rollout: the actions to run, or why it was refused.
public enum RolloutOutcome: Hashable, Sendable {
    case accepted([RolloutAction])
    case rejected(RolloutRejection)

    /// The actions to run; none when rejected.
    public var actions: [RolloutAction] {
        if case .accepted(let actions) = self { return actions }
        return []
    }

    public var rejection: RolloutRejection? {
        if case .rejected(let rejection) = self { return rejection }
        return nil
    }
}
