/// What the caller must measure and judge when the rollout asks for an analysis.
public struct AnalysisRequest: Hashable, Sendable {
    public var ticket: RolloutTicket
    /// The Canary being analysed.
    public var canaryName: ResourceName
    public var canary: Destination
    public var stable: Destination
    public var canaryWeight: Int
    /// Each with its own window; collect one `MetricReading` per check, keyed by its name.
    public var metrics: [MetricCheck]

    public init(
        ticket: RolloutTicket, canaryName: ResourceName, canary: Destination, stable: Destination,
        canaryWeight: Int, metrics: [MetricCheck]
    ) {
        self.ticket = ticket
        self.canaryName = canaryName
        self.canary = canary
        self.stable = stable
        self.canaryWeight = canaryWeight
        self.metrics = metrics
    }
}
