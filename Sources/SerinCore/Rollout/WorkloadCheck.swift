/// A question for the platform before a step: is the canary Deployment fully rolled out and available?
public struct WorkloadCheck: Hashable, Sendable {
    public let ticket: RolloutTicket
    public let deployment: ResourceName

    public init(ticket: RolloutTicket, deployment: ResourceName) {
        self.ticket = ticket
        self.deployment = deployment
    }
}
