import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// Blue/green with mirroring on Kubernetes against the API-server double: during the iterations the Canary's route
/// stays 100% stable and carries Istio's `mirror` to the canary with `mirrorPercentage`; promotion and rollback
/// remove both.
@Suite("Blue/green with mirroring on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesMirroringTests {
    typealias Rollouts = KubernetesRolloutTests

    /// Applies a 3-iteration mirroring Canary whose analyses read `script` and waits for phase `final`; `check` gets
    /// the VirtualService's routes as each analysis saw them and the double.
    static func rollOut(
        _ script: @escaping ScriptedMetrics.Script, until final: String,
        _ check: ([[JSONValue]], KubernetesAPIServer) async -> Void
    ) async throws {
        let analysis: JSONValue = ["interval": "300ms", "threshold": 2, "iterations": 3, "mirror": true, "mirrorWeight": 50]
        try await KubernetesBlueGreenTests.rollOut(analysis, observing: KubernetesABTestingTests.routes, script, until: final) { seen, _, server in
            await check(seen, server)
        }
    }

    /// The seed's route, 100% stable, copying half its requests to the canary.
    static let mirroredRoute: JSONValue = {
        guard case .object(var fields) = KubernetesABTestingTests.ownedRoute(stable: 100, canary: 0) else { return nil }
        fields["mirror"] = ["host": "web-v2-service", "port": ["number": 80]]
        fields["mirrorPercentage"] = ["value": 50]
        return .object(fields)
    }()

    @Test("the route mirrors to the canary with mirrorPercentage during the iterations; promotion removes both")
    func mirrorThenPromotion() async throws {
        try await Self.rollOut(ScriptedMetrics.healthy, until: "Succeeded") { analysed, server in
            #expect(analysed.count == 3)
            #expect(analysed.allSatisfy { $0 == [Self.mirroredRoute] }, "\(analysed)")
            #expect(await eventually(.seconds(10)) { KubernetesABTestingTests.routes(server) == [KubernetesABTestingTests.ownedRoute(stable: 0, canary: 100)] },
                    "\(KubernetesABTestingTests.routes(server))")
        }
    }

    @Test("Flagger's mirroring before weight steps: the first analysis sees the mirrored route at 100/0, the next the weight without the mirror")
    func mirroredStepBeforeWeights() async throws {
        let analysis: JSONValue = ["interval": "300ms", "threshold": 2, "stepWeight": 50, "maxWeight": 50, "mirror": true, "mirrorWeight": 50]
        try await KubernetesBlueGreenTests.rollOut(analysis, observing: KubernetesABTestingTests.routes, ScriptedMetrics.healthy, until: "Succeeded") { analysed, _, server in
            #expect(analysed == [[Self.mirroredRoute], [KubernetesABTestingTests.ownedRoute(stable: 50, canary: 50)]], "\(analysed)")
            #expect(await eventually(.seconds(10)) { KubernetesABTestingTests.routes(server) == [KubernetesABTestingTests.ownedRoute(stable: 0, canary: 100)] },
                    "\(KubernetesABTestingTests.routes(server))")
        }
    }

    @Test("a failing mirrored canary is rolled back: the mirror goes and all traffic stays on stable")
    func rollbackRemovesMirror() async throws {
        try await Self.rollOut(ScriptedMetrics.failing, until: "Failed") { analysed, server in
            #expect(analysed == [[Self.mirroredRoute], [Self.mirroredRoute]])
            #expect(await eventually(.seconds(10)) { KubernetesABTestingTests.routes(server) == [KubernetesABTestingTests.ownedRoute(stable: 100, canary: 0)] },
                    "\(KubernetesABTestingTests.routes(server))")
        }
    }
}

/// `VirtualServiceWeightPatch` with a mirror: the route is replaced whole, guarded by all of it as read, and a
/// mirror the user points at another host is never touched.
@Suite("VirtualService mirror patch")
struct VirtualServiceMirrorPatchTests {
    static func virtualService(mirror: JSONValue?) -> JSONValue {
        var route: [String: JSONValue] = ["route": [["destination": ["host": "web-v1-service"], "weight": 100]]]
        if let mirror {
            route["mirror"] = mirror
            route["mirrorPercentage"] = ["value": 5]
        }
        return ["metadata": ["name": "web"], "spec": ["http": [.object(route)]]]
    }

    static func split(mirror: Percent?) -> TrafficSplit {
        TrafficSplit(
            stable: WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 100),
            canary: WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 0), mirror: mirror)
    }

    @Test("a mirror comes as one guarded replace of the route, and a user's own mirror elsewhere stays when none is wanted")
    func guardedAndUsersKept() throws {
        let plain = Self.virtualService(mirror: nil)
        let operations = try VirtualServiceWeightPatch.operations(for: plain, split: Self.split(mirror: Percent(30)))
        let route = try #require(plain["spec"]?["http"]?[0])
        #expect(operations.first == .test(path: ["spec", "http", "0"], value: route))
        guard case .replace(let path, let value)? = operations.last else { Issue.record("\(operations)"); return }
        #expect(path == ["spec", "http", "0"])
        #expect(value["mirror"] == ["host": "web-v2-service"] && value["mirrorPercentage"] == ["value": 30])

        let audited = Self.virtualService(mirror: ["host": "audit-service"])
        let kept = try VirtualServiceWeightPatch.operations(for: audited, split: Self.split(mirror: nil))
        // Only the destinations change: the route's own mirror is not the Canary's.
        let paths = kept.map(\.path)
        #expect(!paths.isEmpty && paths.allSatisfy { $0 == ["spec", "http", "0", "route"] }, "\(kept)")
    }

    @Test("a route that lists mirrors gets the canary's copy as one more entry, never a mirror beside them (Istio refuses both), and loses only that entry after")
    func mirrorsList() throws {
        let audit: JSONValue = ["destination": ["host": "audit-service"], "percentage": ["value": 10]]
        func virtualService(mirrors: JSONValue) -> JSONValue {
            let route: JSONValue = ["route": [["destination": ["host": "web-v1-service"], "weight": 100]], "mirrors": mirrors]
            return ["metadata": ["name": "web"], "spec": ["http": [route]]]
        }
        let listed = virtualService(mirrors: [audit])
        guard case .replace(_, let mirroring)? = try VirtualServiceWeightPatch.operations(for: listed, split: Self.split(mirror: Percent(30))).last
        else { Issue.record("expected the route replaced"); return }
        #expect(mirroring["mirror"] == nil && mirroring["mirrorPercentage"] == nil)
        #expect(mirroring["mirrors"] == [audit, ["destination": ["host": "web-v2-service"], "percentage": ["value": 30]]])

        let ended = try VirtualServiceWeightPatch.operations(for: virtualService(mirrors: mirroring["mirrors"]!), split: Self.split(mirror: nil))
        guard case .replace(_, let after)? = ended.last else { Issue.record("expected the route replaced: \(ended)"); return }
        #expect(after["mirrors"] == [audit])
    }
}
