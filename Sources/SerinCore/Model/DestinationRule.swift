/// Istio's DestinationRule, reduced to what routing needs: named subsets of a host's endpoints.
public struct DestinationRule: Hashable, Sendable {
    public var name: ResourceName
    public var host: String
    public var subsets: [Subset]

    /// Endpoints of the host whose labels include all of `labels`.
    public struct Subset: Hashable, Sendable {
        public var name: String
        public var labels: [String: String]

        public init(name: String, labels: [String: String]) {
            self.name = name
            self.labels = labels
        }
    }

    public init(name: ResourceName, host: String, subsets: [Subset]) {
        self.name = name
        self.host = host
        self.subsets = subsets
    }
}
