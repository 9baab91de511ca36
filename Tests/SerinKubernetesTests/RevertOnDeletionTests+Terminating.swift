import Foundation
import SerinCore
@testable import SerinKubernetes
import SerinTesting
import Testing

/// How a revert on deletion shows on the Canary, as Flagger shows it: `status.phase` Terminating while it runs, and an
/// Event for each step, read back through the API as `kubectl get -w` and `kubectl describe` would.
extension RevertOnDeletionTests {
    /// The phases a watch of `collection` sees on the Canary `name` until it is deleted, repeats folded, ending in
    /// `deleted`: a watch opened before the call returns, on a client of its own.
    static func watchPhases(_ server: KubernetesAPIServer, _ collection: ResourcePath, name: String) async throws -> Task<[String], any Error> {
        let api = try KubernetesAPIClientTests.client(server)
        let watching = server.watchCount
        let phases = Task {
            var phases: [String] = []
            do {
                events: for try await event in api.watch(collection, from: nil) {
                    switch event {
                    case .added(let canary), .modified(let canary):
                        guard canary["metadata"]?["name"]?.stringValue == name else { continue }
                        let phase = canary["status"]?["phase"]?.stringValue ?? "none"
                        if phases.last != phase { phases.append(phase) }
                    case .deleted(let canary):
                        guard canary["metadata"]?["name"]?.stringValue == name else { continue }
                        phases.append("deleted")
                        break events
                    case .bookmark:
                        continue
                    }
                }
            } catch {
                await api.shutdown()
                throw error
            }
            await api.shutdown()
            return phases
        }
        #expect(await eventually(.seconds(10)) { server.watchCount > watching })
        return phases
    }

    /// The Events about Canary `name` in the namespace default from the first of its revert on, in order, as
    /// `serin history` lists them through the API: the type, then the message.
    static func revertEvents(_ server: KubernetesAPIServer, name: String) async throws -> [String] {
        let api = try KubernetesAPIClientTests.client(server)
        let events: [RolloutEvent]
        do {
            events = try await KubernetesRolloutStore(api: api).events(for: ResourceName(name: name), limit: nil)
        } catch {
            await api.shutdown()
            throw error
        }
        await api.shutdown()
        let told = events.map { "\($0.severity.rawValue) \($0.message)" }
        return Array(told.drop { !$0.hasPrefix("Normal Terminating canary") && !$0.contains("revert it on deletion") })
    }

    /// The status writes made on the Canary at `key` since the request log had `since` entries.
    static func statusWrites(_ server: KubernetesAPIServer, _ path: ResourcePath, since: Int) -> Int {
        server.requestLog.dropFirst(since).filter { $0 == "PUT \(path.status)" }.count
    }

    @Test("a Canary deleted with revertOnDeletion shows Flagger's Terminating phase while it is reverted, then goes: as a watch sees it")
    func phaseIsTerminatingUntilDeleted() async throws {
        try await Self.withHeldRollout(revertOnDeletion: true) { server, lines in
            #expect(await eventually(.seconds(10)) { !Self.finalizers(server, Rollouts.canaryKey).isEmpty })
            let before = try #require(Rollouts.phase(server))
            let phases = try await Self.watchPhases(server, .canaries(namespace: nil), name: "web")

            server.delete(Rollouts.canaryKey)
            #expect(await eventually(.seconds(20)) { server.object(Rollouts.canaryKey) == nil }, "\(lines.messages)")
            let seen = try await phases.value
            #expect(seen == [before, "Terminating", "deleted"], "\(seen)")
            #expect(Rollouts.weights(server) == [100, 0])
        }
    }

    @Test("Flagger's Canary on a Deployment: each step of the revert is an Event, in order, and the Terminating phase is written once though the revert waits and is tried again")
    func eachStepIsAnEventInOrder() async throws {
        let path = CanaryGroup.flagger.path(namespace: "default", name: "podinfo")
        try await Self.withInitializedFlaggerCanary { server, lines, key in
            server.holdDeploymentRollouts()
            let logged = server.requestLog.count
            server.delete(key)
            #expect(await lines.eventuallyLogs("Deployment default/podinfo is scaled back up like podinfo-primary, which goes with the Canary; waiting until it is ready"))
            // Tried again every 200ms meanwhile; the phase is written once, and the story told once.
            try await Task.sleep(for: .milliseconds(800))
            #expect(Workloads.phase(server, key) == "Terminating")
            #expect(Self.statusWrites(server, path, since: logged) == 1, "\(server.requestLog.dropFirst(logged))")
            #expect(try await Self.revertEvents(server, name: "podinfo") == [
                "Normal Terminating canary podinfo.default: deleted with spec.revertOnDeletion, it is kept until Serin has put back what it changed",
                "Normal routes reverted: all traffic to podinfo-primary:9898 in VirtualService default/podinfo",
                "Normal target reverted: Deployment default/podinfo scaled back up like podinfo-primary",
            ])

            server.completeDeploymentRollouts()
            #expect(await eventually(.seconds(20)) { server.object(key) == nil }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) {
                (try? await Self.revertEvents(server, name: "podinfo").last) == "Normal Terminated canary podinfo.default: reverted, finalizer finalizer.flagger.app removed"
            })
            #expect(try await Self.revertEvents(server, name: "podinfo").count == 4)
        }
    }

    @Test("a revert that keeps failing is told as one Warning Event on the Canary, not one per attempt, and the steps once it succeeds")
    func failingRevertWarnsOnce() async throws {
        try await Self.withHeldRollout(revertOnDeletion: true) { server, lines in
            #expect(await eventually(.seconds(10)) { !Self.finalizers(server, Rollouts.canaryKey).isEmpty })
            let routes = try #require(server.object(Rollouts.vsKey))
            // Just before the revert's change of the weights, someone routes the VirtualService elsewhere.
            server.beforeNext("PATCH") {
                server.edit(Rollouts.vsKey) { object in
                    object = (try? object.applying([
                        .replace(path: ["spec", "http", "0", "route"], value: [["destination": ["host": "web-v9-service", "port": ["number": 80]]]]),
                    ])) ?? object
                }
            }
            server.delete(Rollouts.canaryKey)
            #expect(await lines.eventuallyLogs("Canary default/web: cannot revert it on deletion"))
            // Five attempts or more, each failing the same way.
            try await Task.sleep(for: .seconds(1))
            #expect(Self.isMarked(server, Rollouts.canaryKey), "\(lines.messages)")
            let failing = try await Self.revertEvents(server, name: "web")
            #expect(failing.count == 2 && failing.first?.hasPrefix("Normal Terminating canary web.default") == true, "\(failing)")
            #expect(failing.last == "Warning cannot revert it on deletion, as spec.revertOnDeletion asks: VirtualService web-virtualservice has no route "
                + "to web-v1-service:80; Serin tries again every 200ms; until then it keeps its finalizer serin.dev/revert-on-deletion: to delete it "
                + "without the revert, take serin.dev/revert-on-deletion out of its metadata.finalizers (kubectl edit canaries.serin.dev web -n default)")

            server.put(routes, at: Rollouts.vsKey)
            #expect(await eventually(.seconds(20)) { server.object(Rollouts.canaryKey) == nil }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { (try? await Self.revertEvents(server, name: "web").count) == 4 })
            let told = try await Self.revertEvents(server, name: "web")
            #expect(Array(told.dropFirst(2)) == [
                "Normal routes reverted: all traffic to web-v1-service:80 in VirtualService default/web-virtualservice",
                "Normal Terminated canary web.default: reverted, finalizer serin.dev/revert-on-deletion removed",
            ])
        }
    }

    @Test("a Canary on a Deployment whose primary is gone when it is deleted: the target gets a replica of its own, as Flagger does, the routes are reverted, a Warning says so, and the Canary goes")
    func missingPrimaryStillReverts() async throws {
        try await Self.withInitializedFlaggerCanary { server, lines, key in
            // The primary goes once the Canary is marked (its first write, the Terminating phase), so nothing recreates it.
            server.beforeNext("PUT") { server.delete(Workloads.primary) }
            server.delete(key)
            #expect(await eventually(.seconds(20)) { server.object(key) == nil }, "\(lines.messages)")
            #expect(Workloads.replicas(server, Workloads.target) == 1)
            #expect(await eventually(.seconds(10)) { (try? await Self.revertEvents(server, name: "podinfo").count) == 4 })
            let told = try await Self.revertEvents(server, name: "podinfo")
            #expect(Array(told.dropFirst()) == [
                "Normal routes reverted: all traffic to podinfo-primary:9898 in VirtualService default/podinfo",
                "Warning target reverted without its primary: Deployment default/podinfo-primary is gone, so Deployment default/podinfo is scaled from 0 to 1 replica instead of like it",
                "Normal Terminated canary podinfo.default: reverted, finalizer finalizer.flagger.app removed",
            ])
            #expect(await lines.eventuallyLogs(
                "Deployment default/podinfo-primary is gone, so Deployment default/podinfo is scaled from 0 to 1 replica instead of like it, and ready"))
        }
    }

    @Test("the Terminating phase, refused with a 409 for another client's write since the revert read the Canary, is read again and written on top of it")
    func conflictOnThePhaseIsRetried() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            // A second finalizer keeps the Canary once Serin's is off, to be looked at.
            server.put(try Self.heldCanary(revertOnDeletion: true).applying([
                .add(path: ["metadata", "finalizers"], value: ["serin.dev/revert-on-deletion", "example.com/keep"]),
            ]), at: Rollouts.canaryKey)
            server.delete(Rollouts.canaryKey)
            server.beforeNext("PUT") {
                server.edit(Rollouts.canaryKey) { object in
                    object = (try? object.applying([.add(path: ["metadata", "labels"], value: ["team": "shop"])])) ?? object
                }
            }
            var steps: [DeletionRevert.Step] = []
            let path = ResourcePath.canaries(namespace: "default", name: "web")
            #expect(try await DeletionRevert(api: api).revert(ResourceName(name: "web"), group: .serin, steps: &steps)
                == .done("nothing to put back: Serin never took its routes over"))
            #expect(steps == [.terminating, .routes("nothing to put back: Serin never took its routes over"), .finalized("serin.dev/revert-on-deletion")])
            #expect(server.requestLog.filter { $0 == "PUT \(path.status)" }.count == 2, "\(server.requestLog)")
            let canary = try #require(server.object(Rollouts.canaryKey))
            #expect(canary["status"]?["phase"] == "Terminating")
            #expect(canary["metadata"]?["labels"] == ["team": "shop"], "the other write stays")
            #expect(Self.finalizers(server, Rollouts.canaryKey) == ["example.com/keep"])

            // Asked again, the phase is not written again; and a Canary gone meanwhile needs nothing.
            steps = []
            _ = try await DeletionRevert(api: api).revert(ResourceName(name: "web"), group: .serin, steps: &steps)
            #expect(!steps.contains(.terminating))
            #expect(server.requestLog.filter { $0 == "PUT \(path.status)" }.count == 2)
            server.edit(Rollouts.canaryKey) { object in
                object = (try? object.applying([.remove(path: ["metadata", "finalizers"])])) ?? object
            }
            #expect(server.object(Rollouts.canaryKey) == nil)
            #expect(try await DeletionRevert(api: api).revert(ResourceName(name: "web"), group: .serin, steps: &steps) == .gone)
        }
    }
}
