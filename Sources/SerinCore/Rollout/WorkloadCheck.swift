/// A question for the platform before a step: is the canary Deployment fully rolled out and available — and, in
/// Flagger's shape, is the primary, which serves the rest, still available? Flagger asks both before each step: a
/// release never moves weight while the stable side cannot take what it keeps.
public struct WorkloadCheck: Hashable, Sendable {
    public let ticket: RolloutTicket
    public let deployment: ResourceName
    /// The percentage of its updated replicas that must be available (`analysis.canaryReadyThreshold`).
    public let readyThreshold: Int
    /// The primary Deployment, asked first (Flagger's shape); nil when the Canary has none.
    public let primary: ResourceName?
    /// The percentage of the primary's updated replicas that must be available (`analysis.primaryReadyThreshold`).
    public let primaryReadyThreshold: Int

    public init(
        ticket: RolloutTicket, deployment: ResourceName, readyThreshold: Int = AnalysisSpec.defaultReadyThreshold, primary: ResourceName? = nil,
        primaryReadyThreshold: Int = AnalysisSpec.defaultReadyThreshold
    ) {
        self.ticket = ticket
        self.deployment = deployment
        self.readyThreshold = readyThreshold
        self.primary = primary
        self.primaryReadyThreshold = primaryReadyThreshold
    }
}
