import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// A/B testing on Kubernetes against the API-server double: during the analysis the cluster's VirtualService gets a
/// route to the canary for the matching requests ahead of the Canary's route, which stays 100% stable; promotion
/// and rollback remove it again.
@Suite("A/B testing on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesABTestingTests {
    typealias Rollouts = KubernetesRolloutTests

    /// The VirtualService's routes as `[name, matches, destinations and weights]`, for comparing whole.
    static func routes(_ server: KubernetesAPIServer) -> [JSONValue] {
        server.object(Rollouts.vsKey)?["spec"]?["http"]?.arrayValue ?? []
    }

    /// Applies a 3-iteration A/B Canary whose analyses read `script` and waits for phase `final`; `check` gets the
    /// VirtualService's routes as each analysis saw them and the double.
    static func rollOut(
        _ script: @escaping ScriptedMetrics.Script, until final: String,
        _ check: ([[JSONValue]], KubernetesAPIServer) async -> Void
    ) async throws {
        let match: JSONValue = [["headers": ["x-canary": ["exact": "insider"]]]]
        let analysis: JSONValue = ["interval": "300ms", "threshold": 2, "iterations": 3, "match": match]
        try await KubernetesBlueGreenTests.rollOut(analysis, observing: Self.routes, script, until: final) { seen, _, server in
            await check(seen, server)
        }
    }

    /// The seed's route as the Canary leaves it: stable and canary at these weights.
    static func ownedRoute(stable: Int, canary: Int) -> JSONValue {
        [
            "match": [["uri": ["exact": "/"]]],
            "route": [
                ["destination": ["host": "web-v1-service", "port": ["number": 80]], "weight": .number(Double(stable))],
                ["destination": ["host": "web-v2-service", "port": ["number": 80]], "weight": .number(Double(canary))],
            ],
        ]
    }

    /// The A/B route: the seed route's match narrowed by the Canary's, everything to the canary.
    static let matchRoute: JSONValue = [
        "name": "web-canary-match",
        "match": [["uri": ["exact": "/"], "headers": ["x-canary": ["exact": "insider"]]]],
        "route": [["destination": ["host": "web-v2-service", "port": ["number": 80]], "weight": 100]],
    ]

    @Test("the match route goes ahead of the 100% stable route during the analysis and is removed on promotion")
    func matchRouteThenPromotion() async throws {
        try await Self.rollOut(ScriptedMetrics.healthy, until: "Succeeded") { analysed, server in
            #expect(analysed.count == 3)
            #expect(analysed.allSatisfy { $0 == [Self.matchRoute, Self.ownedRoute(stable: 100, canary: 0)] }, "\(analysed)")
            #expect(await eventually(.seconds(10)) { Self.routes(server) == [Self.ownedRoute(stable: 0, canary: 100)] },
                    "\(Self.routes(server))")
            #expect(server.object(Rollouts.canaryKey)?["status"]?["iterations"] == 3)
        }
    }

    @Test("a failing A/B canary is rolled back: the match route is removed and all traffic stays on stable")
    func rollbackRemovesMatchRoute() async throws {
        try await Self.rollOut(ScriptedMetrics.failing, until: "Failed") { analysed, server in
            #expect(analysed == [[Self.matchRoute, Self.ownedRoute(stable: 100, canary: 0)], [Self.matchRoute, Self.ownedRoute(stable: 100, canary: 0)]])
            #expect(await eventually(.seconds(10)) { Self.routes(server) == [Self.ownedRoute(stable: 100, canary: 0)] },
                    "\(Self.routes(server))")
        }
    }
}
