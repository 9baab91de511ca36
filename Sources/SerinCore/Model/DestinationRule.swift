/// Istio's DestinationRule, reduced to what routing and the connections to a host need: named subsets of the
/// host's endpoints, and traffic policies for the host and for each subset.
public struct DestinationRule: Hashable, Sendable {
    public var name: ResourceName
    public var host: String
    public var subsets: [Subset]
    /// The policy for every cluster of the host; a subset's own policy overrides it section by section.
    public var trafficPolicy: TrafficPolicy

    /// Endpoints of the host whose labels include all of `labels`.
    public struct Subset: Hashable, Sendable {
        public var name: String
        public var labels: [String: String]
        /// Sections set here replace the rule's (`TrafficPolicy.merged(over:)`).
        public var trafficPolicy: TrafficPolicy

        public init(name: String, labels: [String: String], trafficPolicy: TrafficPolicy = TrafficPolicy()) {
            self.name = name
            self.labels = labels
            self.trafficPolicy = trafficPolicy
        }
    }

    public init(name: ResourceName, host: String, subsets: [Subset], trafficPolicy: TrafficPolicy = TrafficPolicy()) {
        self.name = name
        self.host = host
        self.subsets = subsets
        self.trafficPolicy = trafficPolicy
    }
}
