/// When a webhook runs and what its answer means, with Flagger's names and meanings.
public enum WebhookType: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Gate before any canary traffic; while it says no the rollout waits.
    case confirmRollout = "confirm-rollout"
    /// Runs once before the first weight; a failure counts as a failed check.
    case preRollout = "pre-rollout"
    /// Runs every interval before the metrics (load tests); a failure counts as a failed check.
    case rollout
    /// Gate before each weight increase; while it says no the weight holds.
    case confirmTrafficIncrease = "confirm-traffic-increase"
    /// Gate before promotion; while it says no the last weight holds.
    case confirmPromotion = "confirm-promotion"
    /// Runs after promotion or rollback; its answer does not change the outcome.
    case postRollout = "post-rollout"
    /// Asked every interval while progressing; a yes rolls the canary back (a manual rollback switch).
    case rollback
    /// Receives every event; fire and forget.
    case event

    public var description: String { rawValue }
}
