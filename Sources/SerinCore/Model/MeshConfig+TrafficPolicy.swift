extension MeshConfig {
    /// The traffic policy of the cluster for `host` (and `subset`): the subset's policy merged over the
    /// top-level policy of the DestinationRule that defines the subset, or, without a subset, the top-level
    /// policy of the first DestinationRule for the host. Empty when no rule sets one.
    public func trafficPolicy(forHost host: String, subset: String?) -> TrafficPolicy {
        let rules = destinationRules(forHost: host)
        if let subset {
            for rule in rules {
                if let defined = rule.subsets.first(where: { $0.name == subset }) {
                    return defined.trafficPolicy.merged(over: rule.trafficPolicy)
                }
            }
        }
        return rules.first?.trafficPolicy ?? TrafficPolicy()
    }
}
