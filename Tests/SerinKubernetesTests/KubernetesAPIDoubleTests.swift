import Foundation
import NIOPosix
import SerinController
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// The API-server double models what a controller managing Deployments relies on: the paths of the resources a
/// canary touches, versions of a group sharing their objects, cascading deletion through owner references, and
/// Deployments that roll out (or are held, or fail) after their spec changes. Every call goes over HTTP.
@Suite("Kubernetes API double: workloads", .timeLimit(.minutes(2)))
struct KubernetesAPIDoubleTests {
    typealias Key = KubernetesAPIServer.ObjectKey
    typealias Events = AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator

    static func deploymentKey(_ name: String) -> Key {
        Key(groupVersion: "apps/v1", resource: "deployments", namespace: "default", name: name)
    }

    static func deployment(_ name: String, replicas: JSONValue? = 2, image: String = "web:v1") -> JSONValue {
        var spec: [String: JSONValue] = [
            "selector": ["matchLabels": ["app": .string(name)]],
            "template": ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": [["name": "web", "image": .string(image)]]]],
        ]
        if let replicas { spec["replicas"] = replicas }
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name), "namespace": "default"], "spec": .object(spec)]
    }

    /// An object of `kind` owned by the objects `owners` (their uids), stored as another client would.
    @discardableResult
    static func putOwned(_ server: KubernetesAPIServer, _ key: Key, kind: String, owners: [JSONValue] = []) -> JSONValue {
        let references: [JSONValue] = owners.map { owner in
            [
                "apiVersion": owner["apiVersion"] ?? "v1", "kind": owner["kind"] ?? "Unknown", "name": owner["metadata"]?["name"] ?? "",
                "uid": owner["metadata"]?["uid"] ?? "", "controller": true,
            ]
        }
        return server.put(
            ["apiVersion": .string(key.groupVersion), "kind": .string(kind), "metadata": ["name": .string(key.name), "ownerReferences": .array(references)]],
            at: key
        )
    }

    /// A DELETE over HTTP: `KubernetesAPI` has no delete, so this speaks HTTP/1.1 itself.
    static func delete(_ server: KubernetesAPIServer, _ path: ResourcePath) async throws -> (code: Int, body: JSONValue) {
        let connection = try await RawConnection.connect(port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        try await connection.send("DELETE \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-token\r\nConnection: close\r\n\r\n")
        let closed = await connection.waitForClose()
        let received = connection.received
        await connection.close()
        guard closed, let headEnd = received.range(of: "\r\n\r\n") else { throw TestFailure("no whole answer to DELETE \(path): \(received)") }
        let statusLine = received[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
        guard let code = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw TestFailure("no status in \(statusLine)")
        }
        return (code, try JSONDecoder().decode(JSONValue.self, from: Data(received[headEnd.upperBound...].utf8)))
    }

    /// A POST of `body` as protobuf over HTTP: the status code and the Status answered.
    static func postProtobuf(_ server: KubernetesAPIServer, _ path: String, _ body: [UInt8]) async throws -> (code: Int, body: JSONValue) {
        let connection = try await RawConnection.connect(port: server.port, group: MultiThreadedEventLoopGroup.singleton)
        try await connection.send(
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-token\r\nConnection: close\r\n"
                + "Content-Type: application/vnd.kubernetes.protobuf\r\nContent-Length: \(body.count)\r\n\r\n")
        try await connection.send(bytes: body)
        let closed = await connection.waitForClose()
        let received = connection.received
        await connection.close()
        guard closed, let headEnd = received.range(of: "\r\n\r\n"),
              let code = received.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw TestFailure("no whole answer to POST \(path): \(received)")
        }
        return (code, try JSONDecoder().decode(JSONValue.self, from: Data(received[headEnd.upperBound...].utf8)))
    }

    @Test("a protobuf body the double cannot read is a 400 saying why, and a kind it reads only as JSON (a custom resource) a 415, as the API server answers; neither stores anything")
    func unreadableProtobuf() async throws {
        let server = try await KubernetesAPIServer.start(group: MultiThreadedEventLoopGroup.singleton, token: "test-token")
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]
        let canary = magic + field(1, field(1, Array("serin.dev/v1alpha1".utf8)) + field(2, Array("Canary".utf8))) + field(2, [])
        let refused = try await Self.postProtobuf(server, "/apis/serin.dev/v1alpha1/namespaces/default/canaries", canary)
        #expect(refused.code == 415 && refused.body["reason"] == "UnsupportedMediaType", "\(refused)")
        // A Secret whose name field says 40 bytes follow, where 3 do.
        let truncated = magic + field(1, field(1, Array("v1".utf8)) + field(2, Array("Secret".utf8))) + [2 << 3 | 2, 5, 1 << 3 | 2, 40, 0x61, 0x62, 0x63]
        let unreadable = try await Self.postProtobuf(server, "/api/v1/namespaces/default/secrets", truncated)
        #expect(unreadable.code == 400, "\(unreadable)")
        #expect(unreadable.body["message"]?.stringValue?.hasPrefix("the protobuf body cannot be read: ") == true, "\(unreadable)")
        #expect(server.object(Key(groupVersion: "v1", resource: "secrets", namespace: "default", name: "abc")) == nil)
        await server.close()
    }

    /// The next `count` events of a watch, as `TYPE name`, with the objects.
    static func next(_ count: Int, of events: inout Events) async throws -> [(seen: String, object: JSONValue)] {
        var seen: [(String, JSONValue)] = []
        while seen.count < count {
            switch try await events.next() {
            case .added(let object)?: seen.append(("ADDED \(object["metadata"]?["name"]?.stringValue ?? "?")", object))
            case .modified(let object)?: seen.append(("MODIFIED \(object["metadata"]?["name"]?.stringValue ?? "?")", object))
            case .deleted(let object)?: seen.append(("DELETED \(object["metadata"]?["name"]?.stringValue ?? "?")", object))
            case .bookmark(let version)?: seen.append(("BOOKMARK", ["metadata": ["resourceVersion": .string(version)]]))
            case nil: throw TestFailure("the watch ended after \(seen.map(\.0))")
            }
        }
        return seen
    }

    static func revision(_ object: JSONValue) -> Int { object["metadata"]?["resourceVersion"]?.stringValue.flatMap { Int($0) } ?? 0 }

    static func expectAlreadyExists(_ create: () async throws -> JSONValue) async {
        do {
            _ = try await create()
            Issue.record("creating an object whose name exists must be refused")
        } catch let error as KubernetesAPIError {
            #expect(error.code == 409)
            #expect(error.reason == "AlreadyExists")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: Paths

    @Test(
        "every resource a canary controller touches is served at its API path: create, get, list, watch, replace, patch and delete",
        arguments: [
            (ResourcePath(groupVersion: "v1", resource: "services", namespace: "prod"), "Service"),
            (ResourcePath(groupVersion: "v1", resource: "configmaps", namespace: "prod"), "ConfigMap"),
            (ResourcePath(groupVersion: "v1", resource: "secrets", namespace: "prod"), "Secret"),
            (ResourcePath(groupVersion: "apps/v1", resource: "deployments", namespace: "prod"), "Deployment"),
            (ResourcePath(groupVersion: "autoscaling/v2", resource: "horizontalpodautoscalers", namespace: "prod"), "HorizontalPodAutoscaler"),
            (ResourcePath(groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: "prod"), "VirtualService"),
            (ResourcePath(groupVersion: "networking.istio.io/v1", resource: "virtualservices", namespace: "prod"), "VirtualService"),
        ]
    )
    func resourcePaths(collection: ResourcePath, kind: String) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            var item = collection
            item.name = "web"
            var events = api.watch(collection, from: nil).makeAsyncIterator()
            #expect(await eventually(.seconds(20)) { server.watchCount == 1 })
            let object: JSONValue = [
                "apiVersion": .string(collection.groupVersion), "kind": .string(kind), "metadata": ["name": "web", "namespace": "prod"],
                "spec": ["replicas": 1],
            ]
            let created = try await api.create(collection, object)
            #expect(created["metadata"]?["namespace"] == "prod")
            #expect(created["apiVersion"] == .string(collection.groupVersion))
            await Self.expectAlreadyExists { try await api.create(collection, object) }

            #expect(try await api.get(item)["metadata"]?["uid"] == created["metadata"]?["uid"])
            #expect(try await api.list(collection).items.map { $0["metadata"]?["name"] } == ["web"])
            var everywhere = collection
            everywhere.namespace = nil
            #expect(try await api.list(everywhere).items.count == 1)
            var elsewhere = collection
            elsewhere.namespace = "staging"
            #expect(try await api.list(elsewhere).items.isEmpty)

            let current = try await api.get(item)
            let replaced = try await api.replace(item, try current.applying([.add(path: ["metadata", "annotations"], value: ["owner": "team-web"])]))
            #expect(replaced["metadata"]?["annotations"] == ["owner": "team-web"])
            let patched = try await api.patch(item, [.add(path: ["metadata", "labels"], value: ["tier": "web"])])
            #expect(patched["metadata"]?["labels"] == ["tier": "web"])
            #expect(patched["metadata"]?["annotations"] == ["owner": "team-web"])

            let deleted = try await Self.delete(server, item)
            #expect(deleted.code == 200)
            #expect(deleted.body["metadata"]?["labels"] == ["tier": "web"])
            await #expect(throws: KubernetesAPIError.self) { _ = try await api.get(item) }
            #expect(try await Self.delete(server, item).code == 404)

            // A Deployment's controller writes its status after the create: one MODIFIED more.
            let rollout = collection.resource == "deployments" ? ["MODIFIED web"] : []
            let seen = try await Self.next(4 + rollout.count, of: &events).map(\.seen)
            #expect(seen == ["ADDED web"] + rollout + ["MODIFIED web", "MODIFIED web", "DELETED web"])
        }
    }

    @Test("a group's versions share storage: a VirtualService written as v1beta1 is read, watched, patched and deleted as v1, each answered in its version")
    func versionsShareStorage() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let beta = ResourcePath.virtualService(namespace: "default", name: "web-virtualservice")
            var stable = beta
            stable.groupVersion = "networking.istio.io/v1"
            var stableCollection = stable
            stableCollection.name = nil
            let created = try await api.create(
                ResourcePath(groupVersion: beta.groupVersion, resource: "virtualservices", namespace: "default"),
                [
                    "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web-virtualservice"],
                    "spec": ["hosts": ["*"], "http": [["route": [["destination": ["host": "web-v1-service"]]]]]],
                ]
            )
            var asStable = api.watch(stableCollection, from: nil).makeAsyncIterator()
            var asBeta = api.watch(ResourcePath(groupVersion: beta.groupVersion, resource: "virtualservices", namespace: nil), from: nil).makeAsyncIterator()
            #expect(await eventually(.seconds(20)) { server.watchCount == 2 })

            let read = try await api.get(stable)
            #expect(read["metadata"]?["uid"] == created["metadata"]?["uid"])
            #expect(read["apiVersion"] == "networking.istio.io/v1")
            #expect(try await api.list(stableCollection).items.map { $0["apiVersion"] } == ["networking.istio.io/v1"])
            await Self.expectAlreadyExists { try await api.create(stableCollection, read) }
            let added = try await Self.next(1, of: &asStable)
            #expect(added.map(\.seen) == ["ADDED web-virtualservice"])
            #expect(added[0].object["apiVersion"] == "networking.istio.io/v1")

            _ = try await api.patch(stable, [.add(path: ["spec", "http", "0", "route", "0", "weight"], value: 100)])
            #expect(try await api.get(beta)["spec"]?["http"]?[0]?["route"]?[0]?["weight"] == 100)
            #expect(try await api.get(beta)["apiVersion"] == "networking.istio.io/v1beta1")
            let betaSeen = try await Self.next(2, of: &asBeta)
            #expect(betaSeen.map(\.seen) == ["ADDED web-virtualservice", "MODIFIED web-virtualservice"])
            #expect(betaSeen[1].object["apiVersion"] == "networking.istio.io/v1beta1")

            #expect(try await Self.delete(server, stable).code == 200)
            do {
                _ = try await api.get(beta)
                Issue.record("deleted through v1, the object is gone through v1beta1 too")
            } catch let error as KubernetesAPIError {
                #expect(error.isNotFound)
            }
            let removed = try await Self.next(2, of: &asStable)
            #expect(removed.map(\.seen) == ["MODIFIED web-virtualservice", "DELETED web-virtualservice"])
        }
    }

    // MARK: Garbage collection

    @Test("deleting a Deployment through the API deletes its ReplicaSet and that ReplicaSet's Pods after it, a DELETED each; what others own stays")
    func cascadingDeleteThroughTheAPI() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let web = server.put(Self.deployment("web"), at: Self.deploymentKey("web"))
            let other = server.put(Self.deployment("api"), at: Self.deploymentKey("api"))
            let replicaSet = { (name: String) in Key(groupVersion: "apps/v1", resource: "replicasets", namespace: "default", name: name) }
            let pod = { (name: String) in Key(groupVersion: "v1", resource: "pods", namespace: "default", name: name) }
            let webSet = Self.putOwned(server, replicaSet("web-5d8f"), kind: "ReplicaSet", owners: [web])
            Self.putOwned(server, pod("web-5d8f-a"), kind: "Pod", owners: [webSet])
            Self.putOwned(server, pod("web-5d8f-b"), kind: "Pod", owners: [webSet])
            let apiSet = Self.putOwned(server, replicaSet("api-7c4b"), kind: "ReplicaSet", owners: [other])
            Self.putOwned(server, pod("api-7c4b-a"), kind: "Pod", owners: [apiSet])
            Self.putOwned(server, pod("standalone"), kind: "Pod")
            let deploymentsPath = ResourcePath.deployments(namespace: "default")
            let before = try await api.list(deploymentsPath).resourceVersion

            let answer = try await Self.delete(server, .deployment(namespace: "default", name: "web"))
            #expect(answer.code == 200)
            #expect(answer.body["metadata"]?["uid"] == web["metadata"]?["uid"])

            // Watches from before the delete replay what it did.
            var deployments = api.watch(deploymentsPath, from: before).makeAsyncIterator()
            var replicaSets = api.watch(ResourcePath(groupVersion: "apps/v1", resource: "replicasets", namespace: "default"), from: before).makeAsyncIterator()
            var pods = api.watch(ResourcePath(groupVersion: "v1", resource: "pods", namespace: "default"), from: before).makeAsyncIterator()
            let deploymentGone = try await Self.next(1, of: &deployments)
            let setGone = try await Self.next(1, of: &replicaSets)
            let podsGone = try await Self.next(2, of: &pods)
            #expect(deploymentGone.map(\.seen) == ["DELETED web"])
            #expect(setGone.map(\.seen) == ["DELETED web-5d8f"])
            #expect(podsGone.map(\.seen) == ["DELETED web-5d8f-a", "DELETED web-5d8f-b"])
            // Background deletion: the owner first, then what it owned, one write each.
            let versions = (deploymentGone + setGone + podsGone).map { Self.revision($0.object) }
            #expect(versions == versions.sorted() && Set(versions).count == 4, "\(versions)")

            for key in [Self.deploymentKey("api"), replicaSet("api-7c4b"), pod("api-7c4b-a"), pod("standalone")] {
                #expect(server.object(key) != nil, "\(key) is not the deleted Deployment's")
            }
            for key in [replicaSet("web-5d8f"), pod("web-5d8f-a"), pod("web-5d8f-b")] {
                #expect(server.object(key) == nil, "\(key) was the deleted Deployment's")
            }
        }
    }

    @Test("delete(_:) deletes as a client would: open watches see DELETED and the cascade follows; a missing object deletes nothing")
    func deleteAsATest() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let key = Self.deploymentKey("web")
            let web = server.put(Self.deployment("web"), at: key)
            let setKey = Key(groupVersion: "apps/v1", resource: "replicasets", namespace: "default", name: "web-5d8f")
            let set = Self.putOwned(server, setKey, kind: "ReplicaSet", owners: [web])
            let podKey = Key(groupVersion: "v1", resource: "pods", namespace: "default", name: "web-5d8f-a")
            Self.putOwned(server, podKey, kind: "Pod", owners: [set])
            var pods = api.watch(ResourcePath(groupVersion: "v1", resource: "pods", namespace: nil), from: nil).makeAsyncIterator()
            let added = try await Self.next(1, of: &pods)
            #expect(added.map(\.seen) == ["ADDED web-5d8f-a"])

            #expect(server.delete(key)?["metadata"]?["uid"] == web["metadata"]?["uid"])
            let collected = try await Self.next(1, of: &pods)
            #expect(collected.map(\.seen) == ["DELETED web-5d8f-a"])
            #expect(server.object(setKey) == nil)
            await #expect(throws: KubernetesAPIError.self) { _ = try await api.get(.deployment(namespace: "default", name: "web")) }
            #expect(server.delete(key) == nil)
        }
    }

    @Test("a dependent with another owner alive stays, its reference to the deleted owner dropped; deleting its last owner collects it")
    func sharedDependents() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let configMap = { (name: String) in Key(groupVersion: "v1", resource: "configmaps", namespace: "default", name: name) }
            let first = Self.putOwned(server, configMap("first"), kind: "ConfigMap")
            let second = Self.putOwned(server, configMap("second"), kind: "ConfigMap")
            let shared = Key(groupVersion: "v1", resource: "secrets", namespace: "default", name: "shared")
            Self.putOwned(server, shared, kind: "Secret", owners: [first, second])
            var secrets = api.watch(ResourcePath(groupVersion: "v1", resource: "secrets", namespace: "default"), from: nil).makeAsyncIterator()
            let added = try await Self.next(1, of: &secrets)
            #expect(added.map(\.seen) == ["ADDED shared"])

            #expect(try await Self.delete(server, ResourcePath(groupVersion: "v1", resource: "configmaps", namespace: "default", name: "first")).code == 200)
            let modified = try await Self.next(1, of: &secrets)
            #expect(modified.map(\.seen) == ["MODIFIED shared"])
            #expect(modified[0].object["metadata"]?["ownerReferences"]?.arrayValue?.map { $0["uid"] } == [second["metadata"]?["uid"]])
            #expect(server.object(shared) != nil)

            server.delete(configMap("second"))
            let collected = try await Self.next(1, of: &secrets)
            #expect(collected.map(\.seen) == ["DELETED shared"])
            #expect(server.object(shared) == nil)
        }
    }

    @Test("a DELETE of an object with finalizers only marks it (MODIFIED, deletionTimestamp, dependents kept); no finalizer may be added then, a stale write is a 409, and the write that takes the last one off deletes it")
    func finalizersHoldADeletion() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let key = Key(groupVersion: "v1", resource: "configmaps", namespace: "default", name: "owner")
            let path = ResourcePath.configMap(namespace: "default", name: "owner")
            let owner = server.put(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "owner", "finalizers": ["example.com/a", "example.com/b"]]], at: key)
            let dependent = Key(groupVersion: "v1", resource: "secrets", namespace: "default", name: "dependent")
            Self.putOwned(server, dependent, kind: "Secret", owners: [owner])
            var configMaps = api.watch(ResourcePath(groupVersion: "v1", resource: "configmaps", namespace: "default"), from: nil).makeAsyncIterator()
            #expect(try await Self.next(1, of: &configMaps).map(\.seen) == ["ADDED owner"])

            let deleted = try await Self.delete(server, path)
            #expect(deleted.code == 200 && deleted.body["metadata"]?["deletionTimestamp"] != nil)
            let marked = try await Self.next(1, of: &configMaps)
            #expect(marked.map(\.seen) == ["MODIFIED owner"])
            #expect(server.object(dependent) != nil, "nothing is collected while the owner stays")
            #expect(try await Self.delete(server, path).code == 200)

            // Marked: a write keeps the mark, whatever it says; a new finalizer is refused; a stale write is a 409.
            let stale = try await api.get(path)
            _ = try await api.replace(path, try stale.applying([
                .remove(path: ["metadata", "deletionTimestamp"]), .add(path: ["metadata", "labels"], value: ["k": "v"]),
            ]))
            #expect(server.object(key)?["metadata"]?["deletionTimestamp"] != nil && server.object(key)?["metadata"]?["labels"] == ["k": "v"])
            await #expect(throws: KubernetesAPIError.self) {
                _ = try await api.replace(path, try stale.applying([.replace(path: ["metadata", "finalizers"], value: ["example.com/a"])]))
            }
            do {
                _ = try await api.replace(path, try await api.get(path).applying([.add(path: ["metadata", "finalizers", "-"], value: "example.com/c")]))
                Issue.record("a finalizer was added to an object marked for deletion")
            } catch let error as KubernetesAPIError {
                #expect(error.code == 422 && error.message.contains("no new finalizers can be added if the object is being deleted"), "\(error)")
            }

            // One finalizer off: still there. The last off: gone, a DELETED, and its dependents collected.
            _ = try await api.patch(path, [.remove(path: ["metadata", "finalizers", "1"])])
            #expect(server.object(key)?["metadata"]?["finalizers"] == ["example.com/a"])
            _ = try await api.patch(path, [.remove(path: ["metadata", "finalizers"])])
            #expect(server.object(key) == nil && server.object(dependent) == nil)
            // The second DELETE and the refused writes changed nothing: the write of the label, the first finalizer off, the last.
            let events = try await Self.next(3, of: &configMaps).map(\.seen)
            #expect(events == ["MODIFIED owner", "MODIFIED owner", "DELETED owner"], "\(events)")
        }
    }

    @Test("a write that would store the object as it is changes nothing, as the API server's no-op update: the same resourceVersion, no event; the next real change is the next event")
    func noOpWritesChangeNothing() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let key = Key(groupVersion: "v1", resource: "configmaps", namespace: "default", name: "settings")
            let path = ResourcePath.configMap(namespace: "default", name: "settings")
            server.put(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "settings"], "data": ["a": "1"]], at: key)
            var configMaps = api.watch(ResourcePath(groupVersion: "v1", resource: "configmaps", namespace: "default"), from: nil).makeAsyncIterator()
            #expect(try await Self.next(1, of: &configMaps).map(\.seen) == ["ADDED settings"])
            let before = try await api.get(path)

            let patched = try await api.patch(path, [.add(path: ["data", "a"], value: "1")])
            let replaced = try await api.replace(path, before)
            for written in [patched, replaced] {
                #expect(written["metadata"]?["resourceVersion"] == before["metadata"]?["resourceVersion"], "\(written)")
            }
            #expect(server.object(key) == before)

            _ = try await api.patch(path, [.add(path: ["data", "a"], value: "2")])
            let changed = try await Self.next(1, of: &configMaps)
            #expect(changed.map(\.seen) == ["MODIFIED settings"])
            #expect(server.object(key)?["metadata"]?["resourceVersion"] != before["metadata"]?["resourceVersion"])
            #expect(changed.first?.object["data"]?["a"] == "2", "the first event after the no-op writes is the real change")
        }
    }

    @Test("a Service created without a clusterIP gets one, a headless one keeps None; an update that leaves it out keeps it, one that changes it is a 422 that changes nothing, as the API server answers")
    func serviceClusterIPNeverChanges() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            func service(_ name: String, clusterIP: JSONValue?) -> JSONValue {
                var spec: [String: JSONValue] = ["selector": ["app": "web"], "ports": [["port": 80]]]
                spec["clusterIP"] = clusterIP
                return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": .object(spec)]
            }
            let allocated = try await api.create(.service(namespace: "default"), service("web", clusterIP: nil))
            let address = try #require(allocated["spec"]?["clusterIP"]?.stringValue)
            #expect(address.hasPrefix("10.96."), "\(allocated)")
            let headless = try await api.create(.service(namespace: "default"), service("web-headless", clusterIP: "None"))
            #expect(headless["spec"]?["clusterIP"] == "None")

            // The spec sent whole, without the clusterIP, as a client that never read it writes it.
            let replaced = try allocated.applying([.replace(path: ["spec"], value: ["selector": ["app": "web"], "ports": [["port": 8080]]])])
            let kept = try await api.replace(.service(namespace: "default", name: "web"), replaced)
            #expect(kept["spec"]?["clusterIP"] == .string(address) && kept["spec"]?["ports"]?[0]?["port"] == 8080)

            let key = Key(groupVersion: "v1", resource: "services", namespace: "default", name: "web")
            let before = server.object(key)
            do {
                _ = try await api.patch(.service(namespace: "default", name: "web"), [.replace(path: ["spec", "clusterIP"], value: "None")])
                Issue.record("the clusterIP changed in place")
            } catch let error as KubernetesAPIError {
                #expect(error.code == 422 && error.message == "Service \"web\" is invalid: spec.clusterIP: Invalid value: \"None\": field is immutable")
            }
            #expect(server.object(key) == before)
        }
    }

    // MARK: Deployments

    @Test("a Deployment created or changed through the API rolls out in a write of its own: latest generation observed, every replica updated and available")
    func rollsOut() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let path = ResourcePath.deployment(namespace: "default", name: "web")
            let readiness = KubernetesWorkloadReadiness(api: api)
            let name = ResourceName(namespace: "default", name: "web")
            let collection = ResourcePath.deployments(namespace: "default")
            var events = api.watch(collection, from: nil).makeAsyncIterator()
            #expect(await eventually(.seconds(20)) { server.watchCount == 1 })

            let created = try await api.create(collection, Self.deployment("web", replicas: 3))
            #expect(created["metadata"]?["generation"] == 1)
            #expect(created["status"]?["observedGeneration"] == nil, "the create's answer is the write before the rollout")
            let afterCreate = try await Self.next(2, of: &events)
            #expect(afterCreate.map(\.seen) == ["ADDED web", "MODIFIED web"])
            #expect(Self.revision(afterCreate[1].object) > Self.revision(afterCreate[0].object))
            #expect(
                afterCreate[1].object["status"]?.objectValue?.filter { $0.key != "conditions" }
                    == ["observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3]
            )
            #expect(afterCreate[1].object["status"]?["conditions"]?.arrayValue?.map { $0["reason"] } == ["MinimumReplicasAvailable", "NewReplicaSetAvailable"])
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: true, reason: "3 of 3 replicas available"))

            // A new template through PUT: the answer is generation 2 not yet observed; the rollout follows.
            let current = try await api.get(path)
            let image: JSONPointer = ["spec", "template", "spec", "containers", "0", "image"]
            let replaced = try await api.replace(path, try current.applying([.replace(path: image, value: "web:v2")]))
            #expect(replaced["metadata"]?["generation"] == 2)
            #expect(replaced["status"]?["observedGeneration"] == 1)
            let afterReplace = try await Self.next(2, of: &events)
            #expect(afterReplace.map { $0.object["status"]?["observedGeneration"] } == [1, 2])
            #expect(await readiness.readiness(of: name).ready)

            // Scaled to zero through a patch: nothing wanted, nothing running, and that is rolled out.
            _ = try await api.patch(path, [.replace(path: ["spec", "replicas"], value: 0)])
            let scaled = try await Self.next(2, of: &events)[1].object["status"]
            let counts = ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"].map { scaled?[$0] }
            #expect(counts == [3, 0, 0, 0, 0])
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: true, reason: "0 of 0 replicas available"))

            // Without spec.replicas, Kubernetes' default of one.
            _ = try await api.patch(path, [.remove(path: ["spec", "replicas"])])
            let defaulted = try await Self.next(2, of: &events)
            #expect(defaulted[1].object["status"]?["availableReplicas"] == 1)
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: true, reason: "1 of 1 replicas available"))

            // A change outside spec is no new generation: no rollout, no status write.
            _ = try await api.patch(path, [.add(path: ["metadata", "annotations"], value: ["owner": "team-web"])])
            server.bookmark()
            let annotated = try await Self.next(2, of: &events)
            #expect(annotated.map(\.seen) == ["MODIFIED web", "BOOKMARK"])
        }
    }

    @Test("held rollouts leave status as it was, so a changed Deployment reads not ready; completing them writes the rolled-out status and holds no more")
    func heldRollouts() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let path = ResourcePath.deployment(namespace: "default", name: "web")
            let readiness = KubernetesWorkloadReadiness(api: api)
            let web = ResourceName(namespace: "default", name: "web")
            let canary = ResourceName(namespace: "default", name: "web-canary")
            let collection = ResourcePath.deployments(namespace: "default")
            _ = try await api.create(collection, Self.deployment("web"))
            #expect(await readiness.readiness(of: web).ready)

            server.holdDeploymentRollouts()
            let before = try await api.get(path)
            _ = try await api.patch(path, [.replace(path: ["spec", "template", "spec", "containers", "0", "image"], value: "web:v2")])
            _ = try await api.create(collection, Self.deployment("web-canary", replicas: 1))
            let held = try await api.get(path)
            #expect(held["metadata"]?["generation"] == 2)
            #expect(held["status"] == before["status"], "the status is as it was")
            let notObserved = WorkloadState(ready: false, reason: "the Deployment's latest spec is not observed yet")
            #expect(await readiness.readiness(of: web) == notObserved)
            #expect(await readiness.readiness(of: canary) == notObserved)

            let version = try await api.list(collection).resourceVersion
            server.completeDeploymentRollouts()
            var events = api.watch(collection, from: version).makeAsyncIterator()
            let completed = try await Self.next(2, of: &events)
            #expect(completed.map(\.seen) == ["MODIFIED web", "MODIFIED web-canary"])
            #expect(completed.map { $0.object["status"]?["observedGeneration"] } == [2, 1])
            #expect(await readiness.readiness(of: web) == WorkloadState(ready: true, reason: "2 of 2 replicas available"))
            #expect(await readiness.readiness(of: canary) == WorkloadState(ready: true, reason: "1 of 1 replicas available"))

            // No longer holding: the next change rolls out at once.
            _ = try await api.patch(path, [.replace(path: ["spec", "replicas"], value: 4)])
            #expect(await readiness.readiness(of: web) == WorkloadState(ready: true, reason: "4 of 4 replicas available"))
        }
    }

    @Test("a failed rollout reads as past its progress deadline with its new generation observed; completing rollouts afterwards still brings it up")
    func failedRollout() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let key = Self.deploymentKey("web")
            let path = ResourcePath.deployment(namespace: "default", name: "web")
            let readiness = KubernetesWorkloadReadiness(api: api)
            let web = ResourceName(namespace: "default", name: "web")
            _ = try await api.create(ResourcePath.deployments(namespace: "default"), Self.deployment("web"))
            server.holdDeploymentRollouts()
            _ = try await api.patch(path, [.replace(path: ["spec", "template", "spec", "containers", "0", "image"], value: "web:broken")])

            let failed = try #require(server.failDeploymentRollout(key))
            #expect(failed["status"]?["observedGeneration"] == 2)
            let progressing = failed["status"]?["conditions"]?.arrayValue?.filter { $0["type"] == "Progressing" }
            #expect(progressing?.map { [$0["status"], $0["reason"]] } == [["False", "ProgressDeadlineExceeded"]])
            #expect(try await api.get(path)["status"] == failed["status"])
            #expect(await readiness.readiness(of: web) == WorkloadState(ready: false, reason: "its rollout exceeded its progress deadline", stalled: true))

            server.completeDeploymentRollouts()
            #expect(await readiness.readiness(of: web) == WorkloadState(ready: true, reason: "2 of 2 replicas available"))
            #expect(server.failDeploymentRollout(Self.deploymentKey("missing")) == nil)
        }
    }

    @Test("status written through the status subresource is kept as written; the Deployment's own writes neither change it nor count as a new generation")
    func clientStatusWrites() async throws {
        try await KubernetesAPIClientTests.withServer { _, api in
            let path = ResourcePath.deployment(namespace: "default", name: "web")
            let readiness = KubernetesWorkloadReadiness(api: api)
            let web = ResourceName(namespace: "default", name: "web")
            let created = try await api.create(ResourcePath.deployments(namespace: "default"), Self.deployment("web"))
            let current = try await api.get(path)
            let written: JSONValue = ["observedGeneration": 1, "replicas": 2, "updatedReplicas": 0]
            let afterStatus = try await api.replace(path.status, try current.applying([.replace(path: ["status"], value: written)]))
            #expect(afterStatus["status"] == written)
            #expect(try await api.get(path)["status"] == written, "no rollout overwrote it")
            #expect(await readiness.readiness(of: web) == WorkloadState(ready: false, reason: "0 of 2 new replicas have been updated"))

            let sameSpec = try await api.replace(path, try afterStatus.applying([.replace(path: ["status"], value: ["observedGeneration": 9])]))
            #expect(sameSpec["status"] == written)
            #expect(sameSpec["metadata"]?["generation"] == created["metadata"]?["generation"])
            #expect(try await api.get(path)["status"] == written)
        }
    }

    @Test("a test's put or edit that sets status stages the Deployment as given; one that leaves status alone rolls out like a client's write")
    func stagedStatus() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let readiness = KubernetesWorkloadReadiness(api: api)
            let key = Self.deploymentKey("web-v2")
            let name = ResourceName(namespace: "default", name: "web-v2")
            var staged = Self.deployment("web-v2")
            staged = try staged.applying([.add(path: ["status"], value: ["observedGeneration": 1, "updatedReplicas": 0, "replicas": 2])])
            server.put(staged, at: key)
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: false, reason: "0 of 2 new replicas have been updated"))

            server.edit(key) { $0 = (try? $0.applying([.replace(path: ["spec", "replicas"], value: 3)])) ?? $0 }
            #expect(await readiness.readiness(of: name) == WorkloadState(ready: true, reason: "3 of 3 replicas available"))

            server.put(Self.deployment("web-v3"), at: Self.deploymentKey("web-v3"))
            #expect(await readiness.readiness(of: ResourceName(namespace: "default", name: "web-v3")).ready)
        }
    }
}
