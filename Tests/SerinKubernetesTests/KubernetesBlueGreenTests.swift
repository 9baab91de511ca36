import NIOConcurrencyHelpers
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// Blue/green on Kubernetes against the API-server double: the cluster's VirtualService is what Istio routes by, so
/// it must stay 100/0 while the iterations are analysed and then switch to 0/100 in one write.
@Suite("Blue/green on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesBlueGreenTests {
    typealias Rollouts = KubernetesRolloutTests

    /// Applies a 3-iteration blue/green Canary whose analyses read `script` and waits for phase `final`; `check` gets the
    /// VirtualService's weights as each analysis saw them, the analyses asked for, and the double.
    static func rollOut(
        _ script: @escaping ScriptedMetrics.Script, until final: String,
        _ check: ([[Int]], [AnalysisRequest], KubernetesAPIServer) async -> Void
    ) async throws {
        try await rollOut(["interval": "300ms", "threshold": 2, "iterations": 3], observing: Rollouts.weights, script, until: final, check)
    }

    /// Applies a Canary with `analysis` whose analyses read `script` and waits for phase `final`; `check` gets what
    /// `observe` read of the double as each analysis began, the analyses asked for, and the double.
    static func rollOut<Seen: Sendable>(
        _ analysis: JSONValue, observing observe: @escaping @Sendable (KubernetesAPIServer) -> Seen,
        _ script: @escaping ScriptedMetrics.Script, until final: String,
        _ check: ([Seen], [AnalysisRequest], KubernetesAPIServer) async -> Void
    ) async throws {
        let seen = NIOLockedValueBox<[Seen]>([])
        let cluster = NIOLockedValueBox<KubernetesAPIServer?>(nil)
        let metrics = ScriptedMetrics { request in
            if let server = cluster.withLockedValue({ $0 }) { seen.withLockedValue { $0.append(observe(server)) } }
            return script(request)
        }
        try await Rollouts.withController(metrics: { _ in metrics }) { server, lines in
            cluster.withLockedValue { $0 = server }
            server.put(Rollouts.canary(analysis), at: Rollouts.canaryKey)
            #expect(await eventually(.seconds(30)) { Rollouts.phase(server) == final }, "\(lines.messages)")
            await check(seen.withLockedValue { $0 }, metrics.requests, server)
        }
    }

    @Test("the VirtualService stays 100/0 through every iteration, then switches to 0/100 at once; status counts iterations")
    func switchesAtOnce() async throws {
        try await Self.rollOut(ScriptedMetrics.healthy, until: "Succeeded") { analysed, requests, server in
            #expect(await eventually(.seconds(10)) { Rollouts.weights(server) == [0, 100] }, "\(Rollouts.weights(server))")
            #expect(analysed == [[100, 0], [100, 0], [100, 0]])
            #expect(requests.map(\.canaryWeight) == [0, 0, 0])
            let status = server.object(Rollouts.canaryKey)?["status"]
            #expect(status?["iterations"] == 3)
            #expect(status?["step"] == "3/3")
        }
    }

    @Test("a failing blue/green canary is rolled back with the VirtualService never moved off 100/0")
    func rollsBackUnmoved() async throws {
        try await Self.rollOut(ScriptedMetrics.failing, until: "Failed") { analysed, _, server in
            #expect(Rollouts.weights(server) == [100, 0])
            #expect(analysed == [[100, 0], [100, 0]])
        }
    }
}
