/// The weights a rollout gives the routes it owns, and which routes those are: one pure rule that the embedded
/// router applies to the typed VirtualService and the Kubernetes router renders as a guarded JSON Patch.
///
/// A route is the Canary's when it sends to the stable or to a version a promotion retired, however many
/// releases ago (the routes may still name it: a VirtualService reloaded from its file after a restart, a
/// weight change that failed). Routes
/// that send only to the canary — a testers' header route — are the user's and stay as written, except the route
/// named `matchRouteName`, which is the Canary's own A/B route (`TrafficSplit+Match.swift`).
public struct TrafficSplit: Hashable, Sendable {
    public var stable: WeightedDestination
    public var canary: WeightedDestination
    /// Versions that served before the stable and leave every route that still names them.
    public var retiring: [Destination]
    /// The Canary's `analysis.stickiness`, which every owned route takes with the weights; nil: drawn per request.
    public var stickiness: Stickiness?
    /// A/B testing while the release is analysed: requests matching any of these take a route of their own to
    /// the canary, ahead of each owned route; empty: no such route, and any left from before is removed.
    public var canaryMatch: [RequestMatch]
    /// The name that marks the Canary's A/B route (`NAME-canary-match`); nil: the split has none to look after.
    public var matchRouteName: String?
    /// Blue/green with mirroring: each owned route copies this share of its requests to the canary; nil: no
    /// such copy, and one the Canary set before is removed (`TrafficSplit+Mirror.swift`).
    public var mirror: Percent?
    /// The sticky canary's cookies (`TrafficSplit+Affinity.swift`); nil: the split sets none and has no affinity routes.
    public var affinity: Affinity?

    public init(
        stable: WeightedDestination, canary: WeightedDestination, retiring: [Destination] = [], stickiness: Stickiness? = nil,
        canaryMatch: [RequestMatch] = [], matchRouteName: String? = nil, mirror: Percent? = nil, affinity: Affinity? = nil
    ) {
        self.stable = stable
        self.canary = canary
        self.retiring = retiring
        self.stickiness = stickiness
        self.canaryMatch = canaryMatch
        self.matchRouteName = matchRouteName
        self.mirror = mirror
        self.affinity = affinity
    }

    /// Whether a route sending to these destinations is the Canary's.
    public func owns(_ destinations: [Destination]) -> Bool {
        destinations.contains { destination in
            destination.sameService(as: stable.destination) || retiring.contains { destination.isSameVersion(as: $0) }
        }
    }

    /// Which of a VirtualService's routes (each its destinations) are the Canary's: those sending to the stable or
    /// a version it retires; when none does, those sending to the canary. A file written before an earlier release
    /// made another version the stable may route only to the version now released again: applied again, or
    /// read at a restart, its routes are still the rollout's, not a way to send everything to the canary. (While
    /// a route reaches the stable, one reaching only the canary, such as a preview by header, stays the user's.)
    public func ownedRoutes(_ routes: [[Destination]]) -> [Bool] {
        let byStable = routes.map(owns)
        guard !byStable.contains(true) else { return byStable }
        return routes.map { $0.contains { $0.sameService(as: canary.destination) } }
    }

    /// The entry of an owned route that made it the Canary's: its first to the stable or a retiring version, else
    /// (a route owned for its canary, `ownedRoutes`) its first to the canary.
    public func ownerIndex(of destinations: [Destination]) -> Int? {
        destinations.firstIndex { owns([$0]) } ?? destinations.firstIndex { $0.sameService(as: canary.destination) }
    }

    /// Whether a route named `name` is one the split adds itself (A/B testing's, the sticky canary's), which no
    /// weights of the routes it owns apply to.
    public func addsRoute(named name: String?) -> Bool {
        isMatchRoute(named: name) || isAffinityRoute(named: name)
    }

    /// The destinations an owned route gets: exactly stable and canary with their weights, the canary last (a
    /// sticky route gives its last destination the lowest points). A destination the
    /// Canary names without a port keeps the port the route had for it, or else the port of the entry that
    /// made the route the Canary's; it keeps the header changes the route had for it, the stable those of the
    /// entry that made the route the Canary's when the route had none for it (as the Kubernetes patch does).
    public func destinations(replacing route: [WeightedDestination]) -> [WeightedDestination] {
        let owner = ownerIndex(of: route.map(\.destination)).map { route[$0] }
        func port(for weighted: WeightedDestination, lender: WeightedDestination?) -> WeightedDestination {
            var weighted = weighted
            let same = route.first { $0.destination.sameService(as: weighted.destination) }
            if weighted.destination.port == nil {
                weighted.destination.port = same?.destination.port ?? owner?.destination.port
            }
            weighted.headers = weighted.headers ?? (same ?? lender)?.headers
            return weighted
        }
        return [port(for: stable, lender: owner), port(for: canary, lender: nil)]
    }

    /// The canary's share, in percent.
    public var canaryWeight: Int { canary.weight }
}
