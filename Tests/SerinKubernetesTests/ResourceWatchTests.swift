import Logging
import NIOPosix
import SerinCore
@testable import SerinKubernetes
import SerinTesting
import Synchronization
import Testing

/// How the controller keeps a collection in step when the API server ends its watches.
@Suite("Resource watch", .timeLimit(.minutes(2)))
struct ResourceWatchTests {
    /// The API double, and a client whose watches ask to be ended after a second and are given up a second after that.
    static func serverWithShortWatches() async throws -> (KubernetesAPIServer, HTTPKubernetesAPI) {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let api = try HTTPKubernetesAPI(
            connection: KubeConfig.Connection(contextName: "test", server: server.url, credential: .bearerToken("test-token")),
            watchTimeout: 1...1, watchGrace: .seconds(1)
        )
        return (server, api)
    }

    @Test("a quiet watch that the server ends again and again is resumed at once, so the next change is seen without delay")
    func quietWatchesResumeAtOnce() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let seen = Mutex<Int?>(nil)
            let watch = ResourceWatch(
                api: api, collection: .canaries(namespace: nil), label: "canaries",
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), quickEnd: .milliseconds(100)
            )
            let running = Task { await watch.run { objects in seen.withLock { $0 = objects.count } } }
            defer { running.cancel() }
            #expect(await eventually(.seconds(10)) { seen.withLock { $0 } == 0 })
            // The API server ends each watch after its timeout, here five times, each after a quiet spell longer
            // than a watch that ended at once.
            for _ in 0..<5 {
                #expect(await eventually(.seconds(20)) { server.watchCount == 1 })
                try await Task.sleep(for: .milliseconds(150))
                server.dropWatches()
            }
            // Had each quiet end been taken for a failing server, the watch would now be 6.4 s into its backoff.
            server.put(
                ["apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"], "spec": [:]],
                at: KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")
            )
            #expect(await eventually(.seconds(3)) { seen.withLock { $0 } == 1 })
        }
    }

    @Test("each watch asks the API server to end it (timeoutSeconds), with no error; one on a connection that died is ended by the client a grace period later")
    func watchesEndAndResume() async throws {
        let (server, api) = try await Self.serverWithShortWatches()
        // The API server ends the watch after the second it was asked for: the stream ends, with no error.
        var events = api.watch(.canaries(namespace: nil), from: nil).makeAsyncIterator()
        let started = ContinuousClock.now
        #expect(try await events.next() == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(900))

        // A connection that died quietly: no event and no end from the server; the client ends it a second after
        // the server should have.
        server.stallWatches()
        var stalled = api.watch(.canaries(namespace: nil), from: nil).makeAsyncIterator()
        let stalledAt = ContinuousClock.now
        #expect(try await stalled.next() == nil)
        #expect(ContinuousClock.now - stalledAt >= .milliseconds(1_900))
        await api.shutdown()
        await server.close()
    }

    @Test("a controller's watch goes on through watches the server ends and one that stalls: a Canary applied after them is seen")
    func watchSurvivesEndedAndStalledWatches() async throws {
        let (server, api) = try await Self.serverWithShortWatches()
        let seen = Mutex<Int?>(nil)
        let watch = ResourceWatch(
            api: api, collection: .canaries(namespace: nil), label: "canaries",
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let running = Task { await watch.run { objects in seen.withLock { $0 = objects.count } } }
        #expect(await eventually(.seconds(10)) { seen.withLock { $0 } == 0 })
        // Two watches ended by the server; then one stalls (the next comes after it, as on a restarted server).
        #expect(await eventually(.seconds(10)) { server.requestLog.filter { $0.hasSuffix("?watch") }.count >= 3 })
        server.stallWatches()
        let beforeStall = server.requestLog.filter { $0.hasSuffix("?watch") }.count
        #expect(await eventually(.seconds(10)) { server.requestLog.filter { $0.hasSuffix("?watch") }.count > beforeStall })
        server.resumeWatches()
        server.put(
            ["apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"], "spec": [:]],
            at: KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")
        )
        #expect(await eventually(.seconds(10)) { seen.withLock { $0 } == 1 })
        running.cancel()
        await api.shutdown()
        await server.close()
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("waits double from the first up to the ceiling and stay there; after a success the next failure waits the first again")
    func doublesUpToCeiling() {
        var backoff = Backoff(first: .milliseconds(200))
        let waits = (0..<10).map { _ in backoff.advance() }
        #expect(waits == [200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000].map { Duration.milliseconds($0) })
        backoff.reset()
        #expect(backoff.next == .milliseconds(200))
        #expect(backoff.advance() == .milliseconds(200))
    }
}
