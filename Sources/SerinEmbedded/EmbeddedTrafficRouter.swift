import SerinController
import SerinCore

/// Moves a rollout's weights on Serin's own gateway by rewriting the routes the Canary owns in the
/// live VirtualService, then swapping the routing table.
public struct EmbeddedTrafficRouter: TrafficRouter {
    private let live: LiveConfiguration

    public init(live: LiveConfiguration) {
        self.live = live
    }

    public func setWeights(for canary: CanarySpec, _ split: TrafficSplit) async throws {
        try await live.setWeights(in: canary.targetRef, split)
    }

    public func servingRoutes(for canary: CanarySpec) async throws -> ServingRoutes {
        try await live.servingRoutes(of: canary.targetRef)
    }
}

/// Why weights could not be set, for the rollout's log.
public enum TrafficRouterError: Error, CustomStringConvertible, Equatable {
    case noVirtualService(ResourceName)
    case noRouteToStable(ResourceName, host: String)

    public var description: String {
        switch self {
        case .noVirtualService(let name):
            return "VirtualService \(name) does not exist"
        case .noRouteToStable(let name, let host):
            return "VirtualService \(name) has no route to \(host)"
        }
    }
}

extension VirtualService {
    /// Gives every HTTP route the split owns exactly its stable and canary destinations, and A/B testing's
    /// route ahead of it while the split has one, and blue/green's mirror to the canary while it mirrors
    /// (`TrafficSplit.routes(replacing:)`); other routes are left
    /// alone. Returns how many routes the split owns.
    mutating func apply(_ split: TrafficSplit) -> Int {
        http = split.routes(replacing: http)
        return http.count { !split.isMatchRoute(named: $0.name) && split.owns($0.destinations.map(\.destination)) }
    }

    /// The HTTP routes' destinations and weights, as the core reads what serves.
    var servingRoutes: ServingRoutes {
        ServingRoutes(virtualService: name, routes: http.filter { !$0.destinations.isEmpty }.map(\.destinations))
    }
}
