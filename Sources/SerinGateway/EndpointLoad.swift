import SerinCore

/// The requests one event loop has in flight to each endpoint of one cluster: what `LEAST_REQUEST` compares. Kept
/// per loop, so counting takes no lock; each loop weighs its own requests, as each of Envoy's workers picks alone.
final class EndpointLoad {
    private var active: [Int]

    init(endpoints: Int) {
        active = Array(repeating: 0, count: endpoints)
    }

    var endpointCount: Int { active.count }

    func started(_ index: Int) { active[index] += 1 }

    func finished(_ index: Int) { active[index] = max(active[index] - 1, 0) }

    /// The requests in flight to endpoint `index` on this loop.
    func inFlight(_ index: Int) -> Int { active.indices.contains(index) ? active[index] : 0 }

    /// Istio's default balancing (Envoy's least request with two choices): `inTurn`, the endpoint next in turn,
    /// unless `other`, a second one drawn at random, has fewer requests in flight for its weight. So idle endpoints
    /// still take their turns (as their weights order them), and one that answers slowly, holding its requests
    /// longer, is passed over while others wait less.
    func lighter(_ inTurn: Int, or other: Int, endpoints: [Cluster.Endpoint]) -> Int {
        guard other != inTurn else { return inTurn }
        // active[other] / weight[other] < active[inTurn] / weight[inTurn], without division.
        return active[other] * endpoints[inTurn].weight < active[inTurn] * endpoints[other].weight ? other : inTurn
    }
}

extension LoopContext {
    /// The in-flight counts for `cluster`'s endpoints on this loop; new when the cluster is new or its endpoints
    /// changed count (requests still counted on the old ones finish there).
    func load(of cluster: Cluster) -> EndpointLoad {
        if let load = loads[cluster.name], load.endpointCount == cluster.endpoints.count { return load }
        let load = EndpointLoad(endpoints: cluster.endpoints.count)
        loads[cluster.name] = load
        return load
    }
}
