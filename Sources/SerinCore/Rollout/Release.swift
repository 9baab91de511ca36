/// One release of a Canary's train: from the version that served to the canary, and how it ended. The rollout
/// keeps the newest ones, so `serin history` and the dashboard show v1 → v2 promoted, v2 → v3 rolled back.
public struct Release: Hashable, Sendable, Codable {
    /// How a release ended, or that it has not yet.
    public enum Outcome: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case progressing = "Progressing"
        /// All traffic moved to the canary, which became the stable.
        case promoted = "Promoted"
        /// All traffic went back to the stable.
        case rolledBack = "RolledBack"
        /// Flagger's shape: the primary could not roll out the promoted revision, so all traffic went to the canary,
        /// the one copy known to serve it, and the release failed there.
        case promotionFailed = "PromotionFailed"
        /// A newer canary replaced this one before it finished.
        case superseded = "Superseded"

        public var description: String { rawValue }
    }

    /// How many releases a rollout remembers.
    public static let kept = 20

    /// What served when the release began.
    public var stable: Destination
    public var canary: Destination
    public var outcome: Outcome
    /// Why it rolled back, its promotion failed, or it was superseded.
    public var reason: String?
    public var startedAt: RolloutInstant
    public var endedAt: RolloutInstant?
    /// Flagger's shape: the workload revisions the release moves between (primary's, target's).
    public var stableRevision: String?
    public var canaryRevision: String?

    public init(
        stable: Destination, canary: Destination, outcome: Outcome = .progressing, reason: String? = nil,
        startedAt: RolloutInstant, endedAt: RolloutInstant? = nil, stableRevision: String? = nil, canaryRevision: String? = nil
    ) {
        self.stableRevision = stableRevision
        self.canaryRevision = canaryRevision
        self.stable = stable
        self.canary = canary
        self.outcome = outcome
        self.reason = reason
        self.startedAt = startedAt
        self.endedAt = endedAt
    }

    /// `web-v1-service:80 → web-v2-service:80 Promoted`, with the reason when there is one.
    public var summary: String {
        let from = stableRevision.map { "\(stable) (\($0))" } ?? stable.description
        let to = canaryRevision.map { "\(canary) (\($0))" } ?? canary.description
        return "\(from) → \(to) \(outcome)" + (reason.map { ": \($0)" } ?? "")
    }
}
