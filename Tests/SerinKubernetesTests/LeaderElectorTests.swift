import Foundation
import NIOConcurrencyHelpers
import SerinKubernetes
import SerinTesting
import Testing

/// Two controller replicas against the API-server double: only the one holding the Lease acts, and the other
/// takes over when the leader stops (released at once) or dies (after the Lease expires).
@Suite("Leader election against the API", .timeLimit(.minutes(2)))
struct LeaderElectorTests {
    static func elector(
        _ identity: String, _ api: any KubernetesAPI, leaseDuration: TimeInterval = 30, renewDeadline: TimeInterval? = nil
    ) -> LeaderElector {
        LeaderElector(
            api: api,
            election: LeaderElection(
                identity: identity, leaseDuration: leaseDuration, renewDeadline: renewDeadline ?? leaseDuration * 0.75, retryPeriod: 0.1
            ),
            namespace: "serin-system", name: "serin-controller", logger: .discarding
        )
    }

    @Test("of two replicas one leads; stopped, it releases the Lease and the other takes over at once")
    func oneLeaderThenHandover() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let acting = NIOLockedValueBox<[String]>([])
            func replica(_ identity: String) -> (LeaderElector, Task<Void, Never>) {
                let elector = Self.elector(identity, api)
                let task = Task {
                    await elector.run {
                        acting.withLockedValue { $0.append(identity) }
                        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                        acting.withLockedValue { $0.removeAll { $0 == identity } }
                    }
                }
                return (elector, task)
            }
            let (a, taskA) = replica("serin-a")
            let (b, taskB) = replica("serin-b")
            #expect(await eventually(.seconds(20)) { acting.withLockedValue { $0.count } == 1 })
            // For a while, still exactly one acts.
            for _ in 0..<10 {
                try await Task.sleep(for: .milliseconds(50))
                #expect(acting.withLockedValue { $0.count } == 1)
            }
            let leaderIsA = await a.isLeading
            #expect(leaderIsA != (await b.isLeading))
            let lease = Self.lease
            #expect(server.object(lease)?["spec"]?["holderIdentity"] == .string(leaderIsA ? "serin-a" : "serin-b"))

            // The leader shuts down gracefully; the other takes over long before the 30 s Lease would expire.
            let (leaderTask, successor) = leaderIsA ? (taskA, "serin-b") : (taskB, "serin-a")
            let stopped = ContinuousClock.now
            leaderTask.cancel()
            await leaderTask.value
            #expect(await eventually(.seconds(20)) { acting.withLockedValue { $0 } == [successor] })
            #expect(ContinuousClock.now - stopped < .seconds(20), "the released Lease was taken without waiting for expiry")
            #expect(server.object(lease)?["spec"]?["holderIdentity"] == .string(successor))
            #expect(server.object(lease)?["spec"]?["leaseTransitions"] == 1)
            taskA.cancel()
            taskB.cancel()
            await taskA.value
            await taskB.value
        }
    }

    @Test("a stopped leader whose first tries to hand the Lease back fail (503) tries again and hands it back")
    func releaseRetried() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let acting = NIOLockedValueBox(false)
            let elector = Self.elector("serin-a", api)
            let task = Task {
                await elector.run {
                    acting.withLockedValue { $0 = true }
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                }
            }
            #expect(await eventually(.seconds(20)) { acting.withLockedValue { $0 } })
            let lease = Self.lease
            #expect(server.object(lease)?["spec"]?["holderIdentity"] == "serin-a")
            // The next two calls fail: the release's first try at least (a renewal under way may take one).
            server.failNext(2, status: 503, reason: "ServiceUnavailable")
            task.cancel()
            await task.value
            #expect(server.object(lease)?["spec"]?["holderIdentity"] == .null, "\(String(describing: server.object(lease)))")
        }
    }

    /// Runs `elector` with a lead that says whether it acts, and when the elector stopped it (the moment it cancelled
    /// the lead, not when a busy machine let the lead's task notice; wall-clock time, as a Lease's times are); returns
    /// once it leads.
    static func leading(
        _ elector: LeaderElector
    ) async -> (acting: NIOLockedValueBox<Bool>, stoppedAt: NIOLockedValueBox<Date?>, task: Task<Void, Never>) {
        let acting = NIOLockedValueBox(false)
        let stoppedAt = NIOLockedValueBox<Date?>(nil)
        let task = Task {
            await elector.run {
                acting.withLockedValue { $0 = true }
                await withTaskCancellationHandler {
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                } onCancel: {
                    stoppedAt.withLockedValue { $0 = Date() }
                }
                acting.withLockedValue { $0 = false }
            }
        }
        #expect(await eventually(.seconds(20)) { acting.withLockedValue { $0 } })
        return (acting, stoppedAt, task)
    }

    @Test("a leader that cannot renew stops acting before its Lease expires")
    func stopsWhenRenewalsFail() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let (acting, _, task) = await Self.leading(Self.elector("serin-a", api, leaseDuration: 2))
            // The API server fails every call for a while: renewals are overdue after 1.5 s.
            server.failNext(1_000, status: 503, reason: "ServiceUnavailable")
            #expect(await eventually(.seconds(20)) { !acting.withLockedValue { $0 } })
            task.cancel()
            await task.value
        }
    }

    /// The Lease every elector here competes for.
    static let lease = KubernetesAPIServer.ObjectKey(
        groupVersion: "coordination.k8s.io/v1", resource: "leases", namespace: "serin-system", name: "serin-controller"
    )

    /// When the Lease the server holds runs out: the moment another replica may take over.
    static func leaseExpiry(_ server: KubernetesAPIServer) throws -> Date {
        let spec = try #require(server.object(lease)?["spec"])
        #expect(spec["holderIdentity"] == "serin-a")
        return try #require(LeaderElection.Lease(json: spec).expiry)
    }

    // The two tests below give the leader a renew deadline of 4 s in a Lease of 8 s: the 4 s between them (5 s of 15 by
    // default) is what a machine's delays may take before a replica that stopped too late is caught. The bound checked
    // is the one that matters: the Lease's expiry as the API server holds it, when another replica may take over.

    @Test("a leader whose renewal gets no answer at all stops acting at its renew deadline, before its Lease expires, and stops without waiting out its calls")
    func stopsWhenRenewalsHang() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            // The client would wait 30 s for an answer.
            let (acting, stoppedAt, task) = await Self.leading(Self.elector("serin-a", api, leaseDuration: 8, renewDeadline: 4))
            // From now on no call is answered (and none changes anything): the connection to the API server died
            // without closing.
            server.hangNext(1_000)
            #expect(await eventually(.seconds(30)) { !acting.withLockedValue { $0 } })
            let stopped = try #require(stoppedAt.withLockedValue { $0 })
            let expiry = try Self.leaseExpiry(server)
            #expect(stopped < expiry, "stopped acting \(stopped.timeIntervalSince(expiry)) s after its Lease expired")
            // Stopping tries to hand the Lease back, for the renew deadline at most: a silent API server does not hold
            // up the shutdown (three tries of 30 s each before).
            let stopping = ContinuousClock.now
            task.cancel()
            await task.value
            #expect(ContinuousClock.now - stopping < .seconds(12))
        }
    }

    @Test("a leader whose renewal ignores its cancellation still stops acting at its renew deadline: the call is given up, not waited for")
    func stopsWhileACallIgnoresCancellation() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let deaf = DeafToCancellation(api)
            // A deaf call takes 12 s whatever is cancelled, past the Lease's 8 s.
            let (acting, stoppedAt, task) = await Self.leading(Self.elector("serin-a", deaf, leaseDuration: 8, renewDeadline: 4))
            deaf.deaf.withLockedValue { $0 = true }
            #expect(await eventually(.seconds(30)) { !acting.withLockedValue { $0 } })
            let stopped = try #require(stoppedAt.withLockedValue { $0 })
            let expiry = try Self.leaseExpiry(server)
            #expect(stopped < expiry, "stopped acting \(stopped.timeIntervalSince(expiry)) s after its Lease expired, when the call came back")
            deaf.deaf.withLockedValue { $0 = false }
            task.cancel()
            await task.value
        }
    }

    /// An API whose calls, once `deaf`, take 12 s and then fail, cancelled or not: a client stuck on a busy event loop.
    final class DeafToCancellation: KubernetesAPI {
        let api: any KubernetesAPI
        let deaf = NIOLockedValueBox(false)
        init(_ api: any KubernetesAPI) { self.api = api }

        struct Deaf: Error {}
        private func hearing() async throws {
            guard deaf.withLockedValue({ $0 }) else { return }
            // A detached task's value is awaited to the end even when the caller is cancelled.
            await Task.detached { try? await Task.sleep(for: .seconds(12)) }.value
            throw Deaf()
        }
        func get(_ path: ResourcePath) async throws -> JSONValue {
            try await hearing()
            return try await api.get(path)
        }
        func list(_ path: ResourcePath) async throws -> (items: [JSONValue], resourceVersion: String) {
            try await hearing()
            return try await api.list(path)
        }
        func watch(_ path: ResourcePath, from resourceVersion: String?) -> AsyncThrowingStream<WatchEvent, any Error> {
            api.watch(path, from: resourceVersion)
        }
        func create(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue {
            try await hearing()
            return try await api.create(path, object)
        }
        func replace(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue {
            try await hearing()
            return try await api.replace(path, object)
        }
        func patch(_ path: ResourcePath, _ operations: [JSONPatchOperation]) async throws -> JSONValue {
            try await hearing()
            return try await api.patch(path, operations)
        }
    }

    @Test("the leader's pod carries serin.dev/leader for the Service; when it stops, the label moves to the new leader's pod")
    func leaderLabelFollowsTheLease() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            func pod(_ name: String) -> KubernetesAPIServer.ObjectKey {
                KubernetesAPIServer.ObjectKey(groupVersion: "v1", resource: "pods", namespace: "serin-system", name: name)
            }
            server.put(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "serin-a", "labels": ["app": "serin-controller"]]], at: pod("serin-a"))
            // A pod with no labels at all gets the label map made for it.
            server.put(["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "serin-b"]], at: pod("serin-b"))
            func labelled(_ name: String) -> Bool { server.object(pod(name))?["metadata"]?["labels"]?[LeaderPodLabel.key] == "true" }
            func replica(_ identity: String) -> Task<Void, Never> {
                let label = LeaderPodLabel(api: api, namespace: "serin-system", name: identity, logger: .discarding)
                let elector = Self.elector(identity, api)
                return Task {
                    await elector.run(lead: label.whileLeading {
                        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                    })
                }
            }
            let taskA = replica("serin-a")
            let taskB = replica("serin-b")
            #expect(await eventually(.seconds(20)) { labelled("serin-a") != labelled("serin-b") })
            let leaderIsA = labelled("serin-a")
            let (leaderTask, follower) = leaderIsA ? (taskA, "serin-b") : (taskB, "serin-a")
            leaderTask.cancel()
            await leaderTask.value
            #expect(!labelled(leaderIsA ? "serin-a" : "serin-b"), "a stopped leader takes its label off")
            #expect(await eventually(.seconds(20)) { labelled(follower) })
            #expect(server.object(pod("serin-a"))?["metadata"]?["labels"]?["app"] == "serin-controller", "other labels stay")
            taskA.cancel()
            taskB.cancel()
            await taskA.value
            await taskB.value
        }
    }
}
