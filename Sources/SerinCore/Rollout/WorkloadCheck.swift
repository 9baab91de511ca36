/// A question for the platform before a step: is the canary Deployment fully rolled out and available?
public struct WorkloadCheck: Hashable, Sendable {
    public let ticket: RolloutTicket
    public let deployment: ResourceName
    /// The percentage of its updated replicas that must be available (`analysis.canaryReadyThreshold`).
    public let readyThreshold: Int

    public init(ticket: RolloutTicket, deployment: ResourceName, readyThreshold: Int = AnalysisSpec.defaultReadyThreshold) {
        self.ticket = ticket
        self.deployment = deployment
        self.readyThreshold = readyThreshold
    }
}
