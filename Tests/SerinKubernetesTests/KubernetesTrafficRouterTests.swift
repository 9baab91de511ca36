import Foundation
import NIOPosix
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// The rollout's weights moved in a VirtualService held by the API-server double, with another client
/// editing it at the worst moment.
@Suite("Kubernetes traffic router", .timeLimit(.minutes(2)))
struct KubernetesTrafficRouterTests {
    static let key = KubernetesAPIServer.ObjectKey(
        groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "default", name: "web-virtualservice"
    )
    static let canary = CanarySpec(
        name: ResourceName(name: "web"), targetRef: ResourceName(name: "web-virtualservice"),
        stable: Destination(host: "web-v1-service"), canary: Destination(host: "web-v2-service"),
        analysis: AnalysisSpec(schedule: try! WeightSchedule(stepWeights: [10, 50]))
    )
    static let stable90 = WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 90)
    static let canary10 = WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 10)

    static let virtualService: JSONValue = [
        "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
        "metadata": ["name": "web-virtualservice", "labels": ["app": "web"]],
        "spec": [
            "hosts": ["*"], "gateways": ["web-gateway"],
            "http": [
                ["match": [["uri": ["prefix": "/admin"]]], "route": [["destination": ["host": "admin-service"]]]],
                ["route": [["destination": ["host": "web-v1-service", "port": ["number": 80]]]]],
            ],
        ],
    ]

    static func weights(_ object: JSONValue?) -> [Int] {
        object?["spec"]?["http"]?[1]?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    static func withRouter(_ body: (KubernetesAPIServer, KubernetesTrafficRouter) async throws -> Void) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in try await body(server, KubernetesTrafficRouter(api: api)) }
    }

    @Test("sets the weights on the route to stable and leaves the other route, labels and gateways as they were")
    func setsWeights() async throws {
        try await Self.withRouter { server, router in
            server.put(Self.virtualService, at: Self.key)
            try await router.setWeights(for: Self.canary, TrafficSplit(stable: Self.stable90, canary: Self.canary10))
            let stored = server.object(Self.key)
            #expect(Self.weights(stored) == [90, 10])
            #expect(stored?["spec"]?["http"]?[1]?["route"]?[1]?["destination"] == ["host": "web-v2-service", "port": ["number": 80]])
            #expect(stored?["spec"]?["http"]?[0] == Self.virtualService["spec"]?["http"]?[0])
            #expect(stored?["metadata"]?["labels"] == ["app": "web"])
            // The same weights again: nothing to write.
            let writes = server.requestLog.filter { $0.hasPrefix("PATCH") }.count
            try await router.setWeights(for: Self.canary, TrafficSplit(stable: Self.stable90, canary: Self.canary10))
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == writes)
        }
    }

    @Test("a VirtualService whose only route goes to the version released again (its file predates the release that made another the stable) is the rollout's: the weights are set on it")
    func releasingAVersionTheRouteNames() async throws {
        try await Self.withRouter { server, router in
            server.put(Self.virtualService, at: Self.key)
            // v2 serves after a promotion; the next release brings v1 back, to which the route sends everything.
            let split = TrafficSplit(
                stable: WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 80),
                canary: WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 20))
            try await router.setWeights(for: Self.canary, split)
            let route = server.object(Self.key)?["spec"]?["http"]?[1]?["route"]?.arrayValue ?? []
            #expect(route.map { $0["destination"]?["host"] } == ["web-v2-service", "web-v1-service"])
            #expect(Self.weights(server.object(Self.key)) == [80, 20])
            #expect(server.object(Self.key)?["spec"]?["http"]?[0] == Self.virtualService["spec"]?["http"]?[0], "the admin route stays")
        }
    }

    @Test("another client's edit between the router's read and write is kept: beside the owned route it needs no retry, inside it the router reads again")
    func concurrentEditKept() async throws {
        try await Self.withRouter { server, router in
            server.put(Self.virtualService, at: Self.key)
            // Beside the owned route: the guarded patch still applies, and both changes stand.
            server.beforeNext("PATCH") {
                server.edit(Self.key) { object in
                    object = (try? object.applying([.add(path: ["spec", "http", "1", "timeout"], value: "5s")])) ?? object
                }
            }
            try await router.setWeights(for: Self.canary, TrafficSplit(stable: Self.stable90, canary: Self.canary10))
            #expect(Self.weights(server.object(Self.key)) == [90, 10])
            #expect(server.object(Self.key)?["spec"]?["http"]?[1]?["timeout"] == "5s")
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 1)

            // Inside it (a header on the stable destination): refused once, recomputed on top, the header kept.
            server.beforeNext("PATCH") {
                server.edit(Self.key) { object in
                    object = (try? object.applying([
                        .add(path: ["spec", "http", "1", "route", "0", "headers"], value: ["request": ["set": ["x-tier": "gold"]]]),
                    ])) ?? object
                }
            }
            try await router.setWeights(
                for: Self.canary, TrafficSplit(stable: WeightedDestination(destination: Self.stable90.destination, weight: 50),
                canary: WeightedDestination(destination: Self.canary10.destination, weight: 50))
            )
            let stored = server.object(Self.key)
            #expect(Self.weights(stored) == [50, 50])
            #expect(stored?["spec"]?["http"]?[1]?["route"]?[0]?["headers"] == ["request": ["set": ["x-tier": "gold"]]])
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count == 3, "one refused patch, then one applied")
        }
    }

    @Test("a missing VirtualService, a VirtualService without a route to stable, and endless conflicts are errors that say so")
    func failures() async throws {
        try await Self.withRouter { server, router in
            await #expect(throws: KubernetesTrafficRouter.Failure(message: "VirtualService default/web-virtualservice does not exist", isMissing: true)) {
                try await router.setWeights(for: Self.canary, TrafficSplit(stable: Self.stable90, canary: Self.canary10))
            }
            var other = Self.canary
            other.stable = Destination(host: "web-v7-service")
            server.put(Self.virtualService, at: Self.key)
            await #expect(throws: KubernetesTrafficRouter.Failure(message: "VirtualService web-virtualservice has no route to web-v7-service")) {
                try await router.setWeights(
                    for: other, TrafficSplit(stable: WeightedDestination(destination: try #require(other.stable), weight: 90), canary: Self.canary10)
                )
            }
            for round in 0..<5 {
                server.beforeNext("PATCH") {
                    server.edit(Self.key) { object in
                        let header: JSONValue = ["request": ["set": ["x-round": .string("\(round)")]]]
                        object = (try? object.applying([.add(path: ["spec", "http", "1", "route", "0", "headers"], value: header)])) ?? object
                    }
                }
            }
            do {
                try await router.setWeights(for: Self.canary, TrafficSplit(stable: Self.stable90, canary: Self.canary10))
                Issue.record("five conflicts in a row must give up")
            } catch let failure as KubernetesTrafficRouter.Failure {
                #expect(failure.message.hasPrefix("VirtualService default/web-virtualservice changed under every one of 5 attempts"), "\(failure)")
            }
            #expect(Self.weights(server.object(Self.key)).isEmpty, "nothing was overwritten")
        }
    }
}
