import Foundation
@testable import SerinKubernetes
import SerinTesting
import Testing

/// Flagger's `spec.revertOnDeletion` end to end against the API-server double, whose DELETE of a Canary with
/// finalizers only marks it (`deletionTimestamp`) until the last one is taken off.
@Suite("Revert on deletion", .timeLimit(.minutes(2)))
struct RevertOnDeletionTests {
    typealias Rollouts = KubernetesRolloutTests
    typealias Workloads = KubernetesWorkloadRolloutTests

    /// The seed's Canary holding at 30% until `serin promote`, every check passing.
    static func heldCanary(revertOnDeletion: Bool) throws -> JSONValue {
        let canary = Rollouts.canary(["interval": "200ms", "threshold": 2, "stepWeights": [["weight": 30, "pause": "promote"]]])
        return revertOnDeletion ? try canary.applying([.add(path: ["spec", "revertOnDeletion"], value: true)]) : canary
    }

    /// A controller running the seed's Canary (`heldCanary`), once it holds at 70/30.
    static func withHeldRollout(revertOnDeletion: Bool, _ body: (KubernetesAPIServer, LogRecorder) async throws -> Void) async throws {
        try await Rollouts.withController(metrics: { _ in ScriptedMetrics() }) { server, lines in
            server.put(try Self.heldCanary(revertOnDeletion: revertOnDeletion), at: Rollouts.canaryKey)
            #expect(await eventually(.seconds(20)) { Rollouts.weights(server) == [70, 30] }, "\(lines.messages)")
            try await body(server, lines)
        }
    }

    /// A controller running Flagger's podinfo Canary with revertOnDeletion, once it is initialized (the target at zero)
    /// and carries Flagger's own finalizer: one Flagger left there is Serin's to answer.
    static func withInitializedFlaggerCanary(
        _ body: (KubernetesAPIServer, LogRecorder, KubernetesAPIServer.ObjectKey) async throws -> Void
    ) async throws {
        let canary = try Workloads.flaggerCanary.applying([.add(path: ["spec", "revertOnDeletion"], value: true)])
        let key = Workloads.flaggerCanaryKey
        try await Workloads.withWorkloadController { server, lines in
            server.put(canary, at: key)
            #expect(await eventually(.seconds(20)) {
                Workloads.phase(server, key) == "Initialized" && Workloads.replicas(server, Workloads.target) == 0
                    && Self.finalizers(server, key) == ["finalizer.flagger.app"]
            }, "\(lines.messages)")
            try await body(server, lines, key)
        }
    }

    static func finalizers(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> [String] {
        (server.object(key)?["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    static func isMarked(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> Bool {
        server.object(key)?["metadata"]?["deletionTimestamp"] != nil
    }

    @Test("a Canary with revertOnDeletion deleted mid-rollout sends all traffic back to the stable, then its finalizer comes off and it is gone")
    func deletedMidRolloutReverts() async throws {
        try await Self.withHeldRollout(revertOnDeletion: true) { server, lines in
            #expect(await eventually(.seconds(10)) { Self.finalizers(server, Rollouts.canaryKey) == ["serin.dev/revert-on-deletion"] })

            server.delete(Rollouts.canaryKey)
            #expect(await eventually(.seconds(20)) { server.object(Rollouts.canaryKey) == nil }, "\(lines.messages)")
            #expect(Rollouts.weights(server) == [100, 0], "all traffic back on web-v1-service before the Canary went")
            let route = server.object(Rollouts.vsKey)?["spec"]?["http"]?[0]?["route"]
            #expect(route?[0]?["destination"]?["host"] == "web-v1-service")
            #expect(await lines.eventuallyLogs(
                "Canary default/web deleted with spec.revertOnDeletion: all traffic to web-v1-service:80 in VirtualService default/web-virtualservice; "
                    + "finalizer serin.dev/revert-on-deletion removed"))
            // Nothing of the forgotten rollout moves the weights again.
            try await Task.sleep(for: .milliseconds(600))
            #expect(Rollouts.weights(server) == [100, 0])
        }
    }

    @Test("without revertOnDeletion no finalizer is added, and a deleted Canary goes at once, leaving the routes as they are")
    func withoutRevertNothingIsHeld() async throws {
        try await Self.withHeldRollout(revertOnDeletion: false) { server, lines in
            try await Task.sleep(for: .milliseconds(400))
            #expect(server.object(Rollouts.canaryKey)?["metadata"]?["finalizers"] == nil)
            #expect(!server.requestLog.contains("PUT /apis/serin.dev/v1alpha1/namespaces/default/canaries/web"), "the Canary itself was never written")

            server.delete(Rollouts.canaryKey)
            #expect(server.object(Rollouts.canaryKey) == nil)
            try await Task.sleep(for: .milliseconds(600))
            #expect(Rollouts.weights(server) == [70, 30])
        }
    }

    @Test("revertOnDeletion set to false takes the finalizer off, so deleting the Canary no longer waits for a revert")
    func optingOutRemovesTheFinalizer() async throws {
        try await Self.withHeldRollout(revertOnDeletion: true) { server, lines in
            #expect(await eventually(.seconds(20)) { Self.finalizers(server, Rollouts.canaryKey) == ["serin.dev/revert-on-deletion"] }, "\(lines.messages)")
            server.edit(Rollouts.canaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "revertOnDeletion"], value: false)])) ?? object
            }
            #expect(await eventually(.seconds(20)) { Self.finalizers(server, Rollouts.canaryKey).isEmpty }, "\(lines.messages)")
            server.delete(Rollouts.canaryKey)
            #expect(server.object(Rollouts.canaryKey) == nil)
            #expect(Rollouts.weights(server) == [70, 30])
        }
    }

    @Test("a revert the API server refuses keeps the finalizer, says why and how to let the Canary go, and is tried again until it is done")
    func refusedRevertIsRetried() async throws {
        try await Self.withHeldRollout(revertOnDeletion: true) { server, lines in
            #expect(await eventually(.seconds(10)) { !Self.finalizers(server, Rollouts.canaryKey).isEmpty })
            // The revert's change of the weights is its first PATCH: from then on the API server answers 500.
            server.beforeNext("PATCH") { server.failEverything(status: 500, reason: "InternalError") }
            server.delete(Rollouts.canaryKey)
            #expect(await lines.eventuallyLogs(
                "Canary default/web: cannot revert it on deletion, as spec.revertOnDeletion asks: 500 InternalError: injected failure; "
                    + "Serin tries again every 200ms; until then it keeps its finalizer serin.dev/revert-on-deletion: to delete it without "
                    + "the revert, take serin.dev/revert-on-deletion out of its metadata.finalizers (kubectl edit canaries.serin.dev web -n default)"))
            try await Task.sleep(for: .milliseconds(600))
            #expect(Self.isMarked(server, Rollouts.canaryKey) && Self.finalizers(server, Rollouts.canaryKey) == ["serin.dev/revert-on-deletion"])
            #expect(Rollouts.weights(server) == [70, 30])

            server.answerAgain()
            #expect(await eventually(.seconds(20)) { server.object(Rollouts.canaryKey) == nil }, "\(lines.messages)")
            #expect(Rollouts.weights(server) == [100, 0])
        }
    }

    @Test("the finalizer's write, refused with a 409 for another client's write since it was read, is read again and made on top of it")
    func conflictOnTheFinalizerIsRetried() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let stale = server.put(try Self.heldCanary(revertOnDeletion: true), at: Rollouts.canaryKey)
            server.edit(Rollouts.canaryKey) { object in
                object = (try? object.applying([.add(path: ["metadata", "labels"], value: ["team": "shop"])])) ?? object
            }
            let path = ResourcePath.canaries(namespace: "default", name: "web")
            try await DeletionRevert(api: api).setFinalizer(true, on: stale, at: path)
            #expect(server.requestLog.filter { $0 == "PUT \(path)" }.count == 2, "\(server.requestLog)")
            #expect(Self.finalizers(server, Rollouts.canaryKey) == ["serin.dev/revert-on-deletion"])
            #expect(server.object(Rollouts.canaryKey)?["metadata"]?["labels"] == ["team": "shop"], "the other write stays")
        }
    }

    @Test("Flagger's Canary on a Deployment deleted with revertOnDeletion: the target is scaled back up like the primary, the finalizer waits until it is ready, then the Canary and what Serin created for it go")
    func workloadScaledBackUp() async throws {
        try await Self.withInitializedFlaggerCanary { server, lines, key in
            server.holdDeploymentRollouts()
            server.delete(key)
            #expect(Self.isMarked(server, key))
            #expect(await eventually(.seconds(20)) { Workloads.replicas(server, Workloads.target) == 2 }, "\(lines.messages)")
            #expect(await lines.eventuallyLogs("Deployment default/podinfo is scaled back up like podinfo-primary, which goes with the Canary; waiting until it is ready"))
            try await Task.sleep(for: .milliseconds(600))
            #expect(Self.isMarked(server, key), "held while the target is not ready")
            #expect(server.object(Workloads.primary) != nil && Workloads.weights(server) == [100, 0])

            server.completeDeploymentRollouts()
            #expect(await eventually(.seconds(20)) { server.object(key) == nil }, "\(lines.messages)")
            for owned in [Workloads.primary, Workloads.virtualService, Workloads.primaryHPA] + Workloads.services {
                #expect(server.object(owned) == nil, "\(owned) outlived its Canary")
            }
            #expect(Workloads.replicas(server, Workloads.target) == 2)
            #expect(await lines.eventuallyLogs("Deployment default/podinfo scaled back up like podinfo-primary, and ready; finalizer finalizer.flagger.app removed"))
        }
    }

    @Test("a Canary on a Deployment deleted mid-release with revertOnDeletion sends all traffic to the primary and leaves the target serving at the primary's size")
    func workloadDeletedMidRelease() async throws {
        let canary = try Workloads.canary.applying([
            .replace(path: ["spec", "analysis", "stepWeights"], value: [["weight": 20, "pause": "promote"]]),
            .add(path: ["spec", "revertOnDeletion"], value: true),
        ])
        try await Workloads.withWorkloadController { server, lines in
            server.put(canary, at: Workloads.canaryKey)
            #expect(await eventually(.seconds(20)) { Workloads.replicas(server, Workloads.target) == 0 }, "\(lines.messages)")
            Workloads.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(20)) { Workloads.weights(server) == [80, 20] }, "\(lines.messages)")

            server.delete(Workloads.canaryKey)
            #expect(await eventually(.seconds(20)) { server.object(Workloads.canaryKey) == nil }, "\(lines.messages)")
            #expect(await lines.eventuallyLogs(
                "Canary default/podinfo deleted with spec.revertOnDeletion: all traffic to podinfo-primary:9898 in VirtualService default/podinfo; "
                    + "Deployment default/podinfo scaled back up like podinfo-primary, and ready"))
            #expect(server.object(Workloads.primary) == nil)
            #expect(Workloads.replicas(server, Workloads.target) == 2)
            #expect(Workloads.image(server, Workloads.target) == "ghcr.io/stefanprodan/podinfo:6.0.1", "the target keeps what it was given")
        }
    }
}
