import SerinController
import SerinCore

/// Moves a rollout's weights on Serin's own gateway by rewriting the routes the Canary owns in the
/// live VirtualService, then swapping the routing table.
public struct EmbeddedTrafficRouter: TrafficRouter {
    private let live: LiveConfiguration

    public init(live: LiveConfiguration) {
        self.live = live
    }

    public func setWeights(for canary: CanarySpec, stable: WeightedDestination, canary canaryWeight: WeightedDestination) async throws {
        try await live.setWeights(in: canary.targetRef, stable: stable, canary: canaryWeight)
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
    /// Sets the weights on every HTTP route that sends to the stable destination: those routes are the
    /// Canary's, and their destinations become exactly stable and canary. Other routes are left alone.
    /// Returns how many routes changed.
    mutating func setCanaryWeights(stable: WeightedDestination, canary: WeightedDestination) -> Int {
        var owned = 0
        for index in http.indices {
            guard let current = http[index].destinations.first(where: { $0.destination.sameService(as: stable.destination) }) else {
                continue
            }
            var stable = stable
            var canary = canary
            // Keep the port the user wrote when the Canary does not name one.
            if stable.destination.port == nil { stable.destination.port = current.destination.port }
            if canary.destination.port == nil { canary.destination.port = current.destination.port }
            http[index].destinations = [stable, canary]
            owned += 1
        }
        return owned
    }
}
