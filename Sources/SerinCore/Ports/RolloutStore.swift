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

/// One metric as analysis saw it: the canary's value beside the stable side's, the check's verdict, and the
/// comparison behind it when the judge made one.
public struct RecordedMeasurement: Hashable, Sendable, Codable {
    public var canary: ResourceName
    public var instant: RolloutInstant
    /// `request-success-rate`, `request-duration` or a custom metric's name.
    public var metric: String
    public var canaryValue: Double?
    public var stableValue: Double?
    /// Requests the canary value is based on; nil when the value comes from no count of requests (a MetricTemplate's
    /// query) or none was read, so it is not mistaken for a canary that took no traffic.
    public var canaryRequests: Int?
    public var stableRequests: Int?
    public var canaryWeight: Int
    /// The span the numbers cover (the check's window; with the statistical judge, the step so far); nil in
    /// history recorded before it was kept.
    public var window: Duration?
    /// The check's own verdict, as its judge gave it.
    public var verdict: Verdict
    /// The canary against the stable, with the interval and the rule's decision (statistical judge).
    public var comparison: Comparison?
    /// True when the canary's numbers are of mirrored copies of requests (Flagger's mirroring step at weight 0, each
    /// iteration of blue/green with mirroring), whose responses no client received; nil for live traffic.
    public var mirrored: Bool?

    public init(
        canary: ResourceName, instant: RolloutInstant, metric: String, canaryValue: Double?, stableValue: Double?,
        canaryRequests: Int?, stableRequests: Int?, canaryWeight: Int, window: Duration? = nil, verdict: Verdict, comparison: Comparison? = nil,
        mirrored: Bool = false
    ) {
        self.mirrored = mirrored ? true : nil
        self.window = window
        self.canary = canary
        self.instant = instant
        self.metric = metric
        self.canaryValue = canaryValue
        self.stableValue = stableValue
        self.canaryRequests = canaryRequests
        self.stableRequests = stableRequests
        self.canaryWeight = canaryWeight
        self.verdict = verdict
        self.comparison = comparison
    }

    private enum CodingKeys: String, CodingKey {
        case canary, instant, metric, canaryValue, stableValue, canaryRequests, stableRequests, canaryWeight, window, verdict, reason, comparison
        case mirrored
    }

    /// The verdict is flat beside the numbers: `"verdict": "fail", "reason": "..."`; the instant is RFC 3339 and the
    /// window seconds (what servers before wrote, Swift's `Duration` and `RolloutInstant` as they encode, is read too).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let instant: RolloutInstant
        if let text = try? container.decode(String.self, forKey: .instant) {
            guard let parsed = RFC3339.instant(text) else {
                throw DecodingError.dataCorruptedError(forKey: .instant, in: container, debugDescription: "expected an RFC 3339 time, got \"\(text)\"")
            }
            instant = parsed
        } else {
            instant = try container.decode(RolloutInstant.self, forKey: .instant)
        }
        let window = try (try? container.decodeIfPresent(Double.self, forKey: .window)).map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
            ?? container.decodeIfPresent(Duration.self, forKey: .window)
        self.init(
            canary: try container.decode(ResourceName.self, forKey: .canary), instant: instant,
            metric: try container.decode(String.self, forKey: .metric),
            canaryValue: try container.decodeIfPresent(Double.self, forKey: .canaryValue),
            stableValue: try container.decodeIfPresent(Double.self, forKey: .stableValue),
            canaryRequests: try container.decodeIfPresent(Int.self, forKey: .canaryRequests),
            stableRequests: try container.decodeIfPresent(Int.self, forKey: .stableRequests),
            canaryWeight: try container.decode(Int.self, forKey: .canaryWeight),
            window: window,
            verdict: Verdict(outcome: try container.decode(Verdict.Outcome.self, forKey: .verdict),
                             reason: try container.decodeIfPresent(String.self, forKey: .reason)),
            comparison: try container.decodeIfPresent(Comparison.self, forKey: .comparison),
            mirrored: try container.decodeIfPresent(Bool.self, forKey: .mirrored) ?? false)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(canary, forKey: .canary)
        try container.encode(RFC3339.format(instant), forKey: .instant)
        try container.encode(metric, forKey: .metric)
        try container.encodeIfPresent(canaryValue, forKey: .canaryValue)
        try container.encodeIfPresent(stableValue, forKey: .stableValue)
        try container.encodeIfPresent(canaryRequests, forKey: .canaryRequests)
        try container.encodeIfPresent(stableRequests, forKey: .stableRequests)
        try container.encode(canaryWeight, forKey: .canaryWeight)
        try container.encodeIfPresent(window?.inSeconds, forKey: .window)
        try container.encode(verdict.outcome, forKey: .verdict)
        try container.encodeIfPresent(verdict.reason, forKey: .reason)
        try container.encodeIfPresent(comparison, forKey: .comparison)
        try container.encodeIfPresent(mirrored, forKey: .mirrored)
    }
}
