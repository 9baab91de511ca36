extension MeshConfig {
    /// The traffic policy of the cluster for `host` (and `subset`) on service port `port`, as Istio's
    /// `MergeSubsetTrafficPolicy` makes it: the policy of the DestinationRule that defines the subset (without a
    /// subset, of the first DestinationRule for the host) for that port, with the subset's policy for the port over
    /// it: section by section, or, when the subset has `portLevelSettings` for the port, in place of its four sections
    /// whole (a port's entry sets no retry budget, so the rule's stays). Empty when no rule sets one.
    public func trafficPolicy(forHost host: String, subset: String?, port: Int?, from namespace: String? = nil) -> TrafficPolicy {
        let rules = destinationRules(forHost: host, from: namespace)
        if let subset {
            for rule in rules {
                if let defined = rule.subsets.first(where: { $0.name == subset }) {
                    let (subsetPolicy, portLevel) = defined.trafficPolicy.forPort(port)
                    return subsetPolicy.merged(over: rule.trafficPolicy.forPort(port).policy, portLevel: portLevel)
                }
            }
        }
        return rules.first?.trafficPolicy.forPort(port).policy ?? TrafficPolicy()
    }
}
