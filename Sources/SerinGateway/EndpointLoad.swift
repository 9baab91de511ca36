import SerinCore

/// The requests one event loop has in flight to each endpoint of one cluster: what `LEAST_REQUEST` compares. Kept
/// per loop, so counting takes no lock; each loop weighs its own requests, as each of Envoy's workers picks alone.
///
/// When the loop's route table changes, the counts go on in the new table's `EndpointLoad` (`handOver(to:)`), each
/// endpoint's under its new index: a request in flight to an endpoint still counts against it after an apply (every
/// step of a canary is one) or after endpoints are added or removed.
final class EndpointLoad {
    private var active: [Int]
    /// The endpoints counted, by their index in the cluster, for finding each one's index in a successor.
    private let endpoints: [Cluster.Endpoint]
    /// Where the counts went (`handOver(to:)`): requests counted here start and finish there, at their endpoint's
    /// index there (nil for an endpoint no longer in the cluster).
    private var successor: (load: EndpointLoad, indices: [Int?])?

    init(endpoints: [Cluster.Endpoint]) {
        self.endpoints = endpoints
        active = Array(repeating: 0, count: endpoints.count)
    }

    var endpointCount: Int { active.count }

    func started(_ index: Int) {
        if let successor {
            if let moved = successor.indices[index] { successor.load.started(moved) }
            return
        }
        active[index] += 1
    }

    func finished(_ index: Int) {
        if let successor {
            if let moved = successor.indices[index] { successor.load.finished(moved) }
            return
        }
        active[index] = max(active[index] - 1, 0)
    }

    /// Whether any request is counted here (not yet handed over).
    var hasRequestsInFlight: Bool { successor == nil && active.contains { $0 > 0 } }

    /// Moves the counts to `next`, the same cluster's counts under a new route table: each endpoint's to the index
    /// of the endpoint at the same address and port there, if it is still there.
    func handOver(to next: EndpointLoad) {
        guard successor == nil, next !== self else { return }
        let indexOf = EndpointAddress.indices(in: next.endpoints)
        let indices = endpoints.map { indexOf[EndpointAddress($0)] }
        for (index, moved) in indices.enumerated() {
            if let moved { next.active[moved] += active[index] }
        }
        successor = (next, indices)
    }

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
    /// The in-flight counts for `cluster`'s endpoints on this loop; new when the cluster is new to the loop's route
    /// table or its endpoints changed count, taking over the counts it had before (`EndpointLoad.handOver(to:)`).
    func load(of cluster: Cluster) -> EndpointLoad {
        if let load = loads[cluster.name], load.endpointCount == cluster.endpoints.count { return load }
        let load = EndpointLoad(endpoints: cluster.endpoints)
        (loads[cluster.name] ?? loadsBefore.removeValue(forKey: cluster.name))?.handOver(to: load)
        loads[cluster.name] = load
        return load
    }
}
