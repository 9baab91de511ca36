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
}
