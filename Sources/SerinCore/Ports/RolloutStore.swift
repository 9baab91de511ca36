/// Where rollouts survive a restart: the state of each Canary's rollout, its event history and its
/// measurements. The embedded mode keeps them in SQLite; on Kubernetes the Canary's status holds them.
public protocol RolloutStore: Sendable {
    /// Every stored rollout, by Canary name.
    func loadRollouts() async throws -> [ResourceName: Rollout]

    /// Saves the rollout's new state and appends its new events and measurements, all or nothing:
    /// after a crash the store holds either the old state with the old history or the new with the new.
    func save(
        _ rollout: Rollout, events: [RolloutEvent], measurements: [RecordedMeasurement]
    ) async throws

    /// The Canary's events, oldest first; the newest `limit` when given.
    func events(for canary: ResourceName, limit: Int?) async throws -> [RolloutEvent]

    /// The Canary's measurements, oldest first; the newest `limit` when given.
    func measurements(for canary: ResourceName, limit: Int?) async throws -> [RecordedMeasurement]

    /// Forgets a Canary that no longer exists.
    func delete(_ canary: ResourceName) async throws
}

/// One metric as analysis saw it: the canary's value beside the stable side's, and the verdict.
public struct RecordedMeasurement: Hashable, Sendable, Codable {
    public var canary: ResourceName
    public var instant: RolloutInstant
    /// `request-success-rate`, `request-duration` or a custom metric's name.
    public var metric: String
    public var canaryValue: Double?
    public var stableValue: Double?
    /// Requests the canary value is based on (0 for custom metrics).
    public var canaryRequests: Int
    public var stableRequests: Int
    public var canaryWeight: Int
    /// `pass`, `fail` or `inconclusive`, with the judge's reason for the last two.
    public var verdict: String

    public init(
        canary: ResourceName, instant: RolloutInstant, metric: String, canaryValue: Double?, stableValue: Double?,
        canaryRequests: Int, stableRequests: Int, canaryWeight: Int, verdict: String
    ) {
        self.canary = canary
        self.instant = instant
        self.metric = metric
        self.canaryValue = canaryValue
        self.stableValue = stableValue
        self.canaryRequests = canaryRequests
        self.stableRequests = stableRequests
        self.canaryWeight = canaryWeight
        self.verdict = verdict
    }
}
