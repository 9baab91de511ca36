import Foundation
import NIOPosix
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// The HTTP client against the API-server double on 127.0.0.1: the semantics a controller builds on —
/// conflicts, guarded patches, the status subresource, watches that resume, tokens.
@Suite("Kubernetes API client", .timeLimit(.minutes(2)))
struct KubernetesAPIClientTests {
    static let canary = ResourcePath.canaries(namespace: "default", name: "web")

    static func client(_ server: KubernetesAPIServer, credential: KubeConfig.Credential? = .bearerToken("test-token")) throws -> HTTPKubernetesAPI {
        try HTTPKubernetesAPI(connection: KubeConfig.Connection(contextName: "test", server: server.url, credential: credential))
    }

    static func withServer(_ body: (KubernetesAPIServer, HTTPKubernetesAPI) async throws -> Void) async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let api = try client(server)
        do {
            try await body(server, api)
        } catch {
            await api.shutdown()
            await server.close()
            throw error
        }
        await api.shutdown()
        await server.close()
    }

    static let canaryObject: JSONValue = [
        "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "default"],
        "spec": ["targetRef": ["name": "web-virtualservice"], "canary": ["host": "web-v2-service"], "analysis": ["interval": "30s"]],
    ]

    @Test("create, get and list; a replace with a stale resourceVersion is a 409 Conflict")
    func conflicts() async throws {
        try await Self.withServer { _, api in
            let created = try await api.create(.canaries(namespace: "default"), Self.canaryObject)
            let version = try #require(created["metadata"]?["resourceVersion"]?.stringValue)
            #expect(try await api.get(Self.canary)["spec"] == Self.canaryObject["spec"])
            let listed = try await api.list(.canaries(namespace: nil))
            #expect(listed.items.count == 1)
            #expect(listed.resourceVersion == version)
            var changed = created
            changed = try changed.applying([.replace(path: ["spec", "canary", "host"], value: "web-v3-service")])
            let replaced = try await api.replace(Self.canary, changed)
            #expect(replaced["metadata"]?["generation"] == 2)
            // The first version again: someone else (this client, a moment ago) changed it since.
            do {
                _ = try await api.replace(Self.canary, changed)
                Issue.record("a stale resourceVersion must be refused")
            } catch let error as KubernetesAPIError {
                #expect(error.code == 409)
                #expect(error.isConflict)
            }
            do {
                _ = try await api.get(.canaries(namespace: "default", name: "missing"))
                Issue.record("a missing object must be a 404")
            } catch let error as KubernetesAPIError {
                #expect(error.isNotFound)
                #expect(error.message == "canaries.serin.dev \"missing\" not found", "as the API server names a resource of a group")
            }
        }
    }

    @Test("a weight patch computed before someone else's edit fails whole with 422; recomputed from a fresh read it applies")
    func guardedPatch() async throws {
        try await Self.withServer { server, api in
            let key = KubernetesAPIServer.ObjectKey(
                groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "default", name: "web-virtualservice"
            )
            server.put(
                [
                    "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                    "metadata": ["name": "web-virtualservice", "annotations": ["owner": "team-web"]],
                    "spec": ["hosts": ["*"], "http": [["route": [["destination": ["host": "web-v1-service", "port": ["number": 80]]]]]]],
                ],
                at: key
            )
            let path = ResourcePath.virtualService(namespace: "default", name: "web-virtualservice")
            let read = try await api.get(path)
            let stable = WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 90)
            let canary = WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 10)
            let operations = try VirtualServiceWeightPatch.operations(for: read, split: TrafficSplit(stable: stable, canary: canary))
            // Another client adds a mirror destination to the route in between.
            server.edit(key) { object in
                object = (try? object.applying([
                    .add(path: ["spec", "http", "0", "route", "-"], value: ["destination": ["host": "web-shadow"], "weight": 0]),
                ])) ?? object
            }
            do {
                _ = try await api.patch(path, operations)
                Issue.record("the stale patch must be refused")
            } catch let error as KubernetesAPIError {
                #expect(error.code == 422)
                #expect(error.isConflict, "\(error)")
            }
            #expect(server.object(key)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.count == 2, "the refused patch changed nothing")
            let fresh = try await api.get(path)
            let patched = try await api.patch(path, try VirtualServiceWeightPatch.operations(for: fresh, split: TrafficSplit(stable: stable, canary: canary)))
            #expect(patched["spec"]?["http"]?[0]?["route"]?[1]?["weight"] == 10)
            #expect(patched["metadata"]?["annotations"] == ["owner": "team-web"])
        }
    }

    @Test("with a status subresource, the object's writes keep status and /status writes change nothing else")
    func statusSubresource() async throws {
        try await Self.withServer { _, api in
            let created = try await api.create(.canaries(namespace: "default"), Self.canaryObject)
            var withStatus = created
            if case .object(var fields) = withStatus {
                fields["status"] = ["phase": "Progressing", "canaryWeight": 10]
                fields["spec"] = ["canary": ["host": "ignored-by-status-write"]]
                withStatus = .object(fields)
            }
            let afterStatus = try await api.replace(Self.canary.status, withStatus)
            #expect(afterStatus["status"]?["phase"] == "Progressing")
            #expect(afterStatus["spec"] == Self.canaryObject["spec"])
            #expect(afterStatus["metadata"]?["generation"] == 1, "a status write is no new generation")
            var specChange = afterStatus
            if case .object(var fields) = specChange {
                fields["status"] = ["phase": "Failed"]
                specChange = .object(fields)
            }
            let afterSpec = try await api.replace(Self.canary, specChange)
            #expect(afterSpec["status"]?["phase"] == "Progressing", "the main resource ignores status")
        }
    }

    @Test("a watch streams changes and bookmarks; after a dropped watch it resumes from the last resourceVersion, losing nothing; a compacted one is 410")
    func watches() async throws {
        try await Self.withServer { server, api in
            let key = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "default", name: "web")
            let collection = ResourcePath.canaries(namespace: nil)
            var events = api.watch(collection, from: nil).makeAsyncIterator()
            #expect(await eventually(.seconds(20)) { server.watchCount == 1 })
            server.put(Self.canaryObject, at: key)
            guard case .added(let added)? = try await events.next() else { throw TestFailure("expected ADDED") }
            server.edit(key) { $0 = (try? $0.applying([.replace(path: ["spec", "canary", "host"], value: "web-v3-service")])) ?? $0 }
            guard case .modified(let modified)? = try await events.next() else { throw TestFailure("expected MODIFIED") }
            #expect(modified["spec"]?["canary"]?["host"] == "web-v3-service")
            server.bookmark()
            guard case .bookmark(let bookmarked)? = try await events.next() else { throw TestFailure("expected BOOKMARK") }
            #expect(bookmarked == modified["metadata"]?["resourceVersion"]?.stringValue)
            #expect(added["metadata"]?["resourceVersion"] != modified["metadata"]?["resourceVersion"])

            // The watch drops; a change happens while nobody watches; the resumed watch delivers it.
            server.dropWatches()
            #expect(try await events.next() == nil)
            server.edit(key) { $0 = (try? $0.applying([.replace(path: ["spec", "canary", "host"], value: "web-v4-service")])) ?? $0 }
            var resumed = api.watch(collection, from: bookmarked).makeAsyncIterator()
            guard case .modified(let missed)? = try await resumed.next() else { throw TestFailure("expected the missed MODIFIED") }
            #expect(missed["spec"]?["canary"]?["host"] == "web-v4-service")

            // After compaction, an old resourceVersion is gone: the caller must list again.
            server.compact()
            var stale = api.watch(collection, from: bookmarked).makeAsyncIterator()
            do {
                _ = try await stale.next()
                Issue.record("a compacted resourceVersion must be 410 Gone")
            } catch let error as KubernetesAPIError {
                #expect(error.isGone, "\(error)")
            }
        }
    }

    @Test("without the token every call is 401; a token file is read again for each request")
    func tokens() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton)
        let anonymous = try Self.client(server, credential: nil)
        do {
            _ = try await anonymous.list(.canaries(namespace: nil))
            Issue.record("an anonymous call must be refused")
        } catch let error as KubernetesAPIError {
            #expect(error.code == 401)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("serin-token-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "stale-token\n".write(toFile: file, atomically: true, encoding: .utf8)
        let rotating = try Self.client(server, credential: .tokenFile(file))
        await #expect(throws: KubernetesAPIError.self) { _ = try await rotating.list(.canaries(namespace: nil)) }
        // Kubernetes rotates the projected token in place; the next call uses the new one.
        try "test-token\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await rotating.list(.canaries(namespace: nil)).items.isEmpty)
        await anonymous.shutdown()
        await rotating.shutdown()
        await server.close()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
