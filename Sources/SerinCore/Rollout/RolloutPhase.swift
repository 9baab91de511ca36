/// Where a rollout is in its life, spelled as Flagger's Canary status phases.
public enum RolloutPhase: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Ready; no rollout started yet.
    case initialized = "Initialized"
    /// Gates, hooks and analysis at increasing canary weights.
    case progressing = "Progressing"
    /// All traffic on the canary; post-rollout hooks running.
    case promoting = "Promoting"
    /// Done: the canary serves 100%.
    case succeeded = "Succeeded"
    /// All traffic back on stable; post-rollout hooks running.
    case rollingBack = "RollingBack"
    /// Done: the canary was rolled back.
    case failed = "Failed"
    /// Held by a person; `resume` returns to the phase it paused.
    case paused = "Paused"

    public var description: String { rawValue }

    /// Succeeded or Failed: only `restart` (or a new spec followed by `restart`) moves it again.
    public var isFinished: Bool { self == .succeeded || self == .failed }
}
