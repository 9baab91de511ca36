/// The step of the Flagger flow a rollout is at inside its phase: which gate, hooks or analysis comes next.
public enum RolloutStage: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case notStarted = "not-started"
    /// Waiting for the confirm-rollout gate (no canary traffic yet).
    case confirmRollout = "confirm-rollout"
    /// Running pre-rollout hooks (no canary traffic yet).
    case preRollout = "pre-rollout"
    /// Canary takes its step weight; rollout hooks and analysis each interval.
    case analysis
    /// The step passed; waiting for the confirm-traffic-increase gate.
    case confirmTrafficIncrease = "confirm-traffic-increase"
    /// The last step passed; waiting for the confirm-promotion gate.
    case confirmPromotion = "confirm-promotion"
    /// Flagger's shape: the canary's template is being copied to the primary, which rolls it out.
    case primaryRollout = "primary-rollout"
    /// Promoted: traffic moves to the promoted version `stepWeightPromotion` percent per interval.
    case promotionSteps = "promotion-steps"
    /// Promoted or rolled back; running post-rollout hooks.
    case postRollout = "post-rollout"
    case finished

    public var description: String { rawValue }
}
