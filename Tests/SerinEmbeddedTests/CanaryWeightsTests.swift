@testable import SerinEmbedded
import SerinCore
import Testing

/// Which parts of a user's VirtualService a rollout may change: only the routes to the stable destination.
@Suite("Canary weights on a VirtualService")
struct CanaryWeightsTests {
    static let stable = Destination(host: "web-v1-service", port: 80)
    static let canary = Destination(host: "web-v2-service", port: 80)

    static func virtualService() -> VirtualService {
        VirtualService(
            name: ResourceName(name: "web-virtualservice"), hosts: ["*"], gateways: [ResourceName(name: "web-gateway")],
            http: [
                HTTPRoute(name: "api", matches: [RequestMatch(uri: .prefix("/api"))],
                          destinations: [WeightedDestination(destination: Destination(host: "api-service"), weight: 100)]),
                HTTPRoute(name: "home", matches: [RequestMatch(uri: .exact("/"))],
                          destinations: [WeightedDestination(destination: stable, weight: 100)]),
            ]
        )
    }

    @Test("sets stable and canary weights on the route to stable, adding the canary destination")
    func setsOwnedRoute() {
        var virtualService = Self.virtualService()
        let changed = virtualService.apply(
            TrafficSplit(stable: WeightedDestination(destination: Self.stable, weight: 80),
            canary: WeightedDestination(destination: Self.canary, weight: 20))
        )
        #expect(changed == 1)
        #expect(virtualService.http[1].destinations == [
            WeightedDestination(destination: Self.stable, weight: 80), WeightedDestination(destination: Self.canary, weight: 20),
        ])
        #expect(virtualService.http[1].matches == Self.virtualService().http[1].matches)
        #expect(virtualService.http[1].name == "home")
    }

    @Test("leaves every other route exactly as written")
    func leavesOtherRoutes() {
        var virtualService = Self.virtualService()
        _ = virtualService.apply(
            TrafficSplit(stable: WeightedDestination(destination: Self.stable, weight: 0),
            canary: WeightedDestination(destination: Self.canary, weight: 100))
        )
        #expect(virtualService.http[0] == Self.virtualService().http[0])
        #expect(virtualService.hosts == ["*"])
        #expect(virtualService.gateways == [ResourceName(name: "web-gateway")])
    }

    @Test("keeps the port the user wrote when the Canary names none, and reports when no route is owned")
    func portsAndMissingRoute() {
        var virtualService = Self.virtualService()
        _ = virtualService.apply(
            TrafficSplit(stable: WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 50),
            canary: WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 50))
        )
        #expect(virtualService.http[1].destinations.map(\.destination.port) == [80, 80])
        var other = Self.virtualService()
        #expect(other.apply(
            TrafficSplit(stable: WeightedDestination(destination: Destination(host: "elsewhere"), weight: 50),
            canary: WeightedDestination(destination: Self.canary, weight: 50))
        ) == 0)
    }
}
