/// What a person can ask of a rollout from the command line, the API or the dashboard.
public enum RolloutCommand: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case start
    /// Skip the remaining steps and gates and promote now.
    case promote
    /// Roll back now.
    case abort
    case pause
    case resume
    /// Start the rollout again from the first step (the CLI's `rollout`).
    case restart = "rollout"

    public var description: String { rawValue }
}
