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
    /// The canary's destination has nothing to send its weight to (`RouteTable.unservable`).
    case canaryUnservable(ResourceName, host: String, why: String)

    public var description: String {
        switch self {
        case .canaryUnservable(let name, let host, let why):
            return "VirtualService \(name) keeps its weights: canary \(host) \(why), so its requests would be answered 503"
        case .noVirtualService(let name):
            return "VirtualService \(name) does not exist"
        case .noRouteToStable(let name, let host):
            return "VirtualService \(name) has no route to \(host)"
        }
    }
}

extension RouteTable {
    /// Why a route of `virtualService` to `destination` could serve no request, or nil when it can: the host resolves
    /// to no Service or ServiceEntry, or to one with no endpoints. Only the routes a listener serves are looked at.
    func unservable(_ destination: Destination, in virtualService: ResourceName) -> String? {
        unservable([(destination, virtualService)])[0]
    }

    /// `unservable(_:in:)` for each pair, the routes gathered once.
    func unservable(_ pairs: [(destination: Destination, virtualService: ResourceName)]) -> [String?] {
        guard !pairs.isEmpty else { return [] }
        let wanted = Set(pairs.map(\.virtualService))
        var routes: [ResourceName: [Route]] = [:]
        for route in servedRoutes where wanted.contains(route.virtualService) { routes[route.virtualService, default: []].append(route) }
        return pairs.map { destination, virtualService in
            for route in routes[virtualService] ?? [] {
                for target in route.targets where target.destination == destination && target.weight > 0 {
                    if let why = target.unservable { return why }
                }
            }
            return nil
        }
    }

    /// A destination as one VirtualService's routes send requests to it.
    struct RoutedDestination: Hashable {
        let virtualService: ResourceName
        let destination: Destination
    }

    /// What the routes of VirtualServices send to each destination, on the gateway's listeners and, with `mesh`, on
    /// the mesh's: the largest share of one route's requests, in percent, and why the destination could serve none
    /// of them (nil when it can). Only destinations that take requests: a weight above 0, or a route's lone
    /// destination, which takes them all whatever its weight.
    func routedDestinations(mesh: Bool) -> [RoutedDestination: (share: Int, unservable: String?)] {
        var routed: [RoutedDestination: (share: Int, unservable: String?)] = [:]
        let routes = mesh ? servedRoutes : gatewayRoutes
        for route in routes where route.totalWeight > 0 && route.name != RouteTable.directRouteName {
            for target in route.targets where target.weight > 0 || route.targets.count == 1 {
                let share = route.targets.count == 1 ? 100 : target.weight * 100 / route.totalWeight
                let key = RoutedDestination(virtualService: route.virtualService, destination: target.destination)
                routed[key] = (max(share, routed[key]?.share ?? 0), target.unservable)
            }
        }
        return routed
    }

    /// The routes of every Gateway port: HTTP, PASSTHROUGH and TCP.
    private var gatewayRoutes: [Route] {
        (Array(listeners.values) + Array(passthrough.values) + Array(tcp.values)).flatMap { $0.virtualHosts.flatMap(\.routes) }
    }

    /// The routes of every Gateway port and every port of the mesh.
    private var servedRoutes: [Route] {
        gatewayRoutes + (Array(mesh.values) + Array(meshTCP.values) + Array(meshTLS.values)).flatMap { $0.virtualHosts.flatMap(\.routes) }
    }
}

extension RouteTable.Target {
    /// Why this target could serve no request, or nil when it can.
    var unservable: String? {
        if cluster.service == nil { return "resolves to no Service or ServiceEntry" }
        if cluster.endpoints.isEmpty { return "has no endpoints" }
        return nil
    }
}

extension VirtualService {
    /// Gives every HTTP route the split owns exactly its stable and canary destinations, and A/B testing's
    /// route ahead of it while the split has one, and blue/green's mirror to the canary while it mirrors
    /// (`TrafficSplit.routes(replacing:)`), and every TCP route it owns the same weights; other routes are left
    /// alone. Returns how many routes the split owns.
    mutating func apply(_ split: TrafficSplit) -> Int {
        http = split.routes(replacing: http)
        tcp = split.routes(replacing: tcp)
        let routes = http.filter { !split.addsRoute(named: $0.name) }.map { $0.destinations.map(\.destination) }
        return split.ownedRoutes(routes).count { $0 } + split.ownedRoutes(tcp.map { $0.destinations.map(\.destination) }).count { $0 }
    }

    /// The HTTP and TCP routes' destinations and weights, as the core reads what serves.
    var servingRoutes: ServingRoutes {
        ServingRoutes(virtualService: name, routes: http.filter { !$0.destinations.isEmpty }.map(\.destinations) + tcp.map(\.destinations))
    }
}
