import Foundation
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// A Flagger Canary's `spec.service` edited after Serin created the Services and VirtualService: the next
/// reconcile brings them in line, keeping what the rollout owns, against the API-server double.
@Suite("Editing a Canary's spec.service on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesServiceEditTests {
    typealias Workload = KubernetesWorkloadRolloutTests
    static let services = Workload.services
    static let virtualService = Workload.virtualService

    static func edited(_ canary: JSONValue, service: JSONValue) throws -> JSONValue {
        try canary.applying([.replace(path: ["spec", "service"], value: service)])
    }

    static func ports(_ server: KubernetesAPIServer, _ key: KubernetesAPIServer.ObjectKey) -> JSONValue? {
        server.object(key)?["spec"]?["ports"]
    }

    static func destinationPorts(_ server: KubernetesAPIServer) -> [Int] {
        server.object(virtualService)?["spec"]?["http"]?[0]?["route"]?.arrayValue?.compactMap { $0["destination"]?["port"]?["number"]?.intValue } ?? []
    }

    /// Writes to the Services and the VirtualService, as the double logged them.
    static func writes(_ server: KubernetesAPIServer) -> [String] {
        server.requestLog.filter { line in
            !line.hasPrefix("GET ") && (line.contains("/services/") || line.contains("/virtualservices/"))
        }
    }

    @Test("an edited port, hosts, gateways and timeout reach the Services and VirtualService in the middle of a release, which keeps its weights and goes on; settled, reconciles write nothing")
    func editReachesObjectsDuringRelease() async throws {
        var canary = Workload.canary
        canary = try canary.applying([.replace(path: ["spec", "analysis", "interval"], value: "1m")])
        try await Workload.withWorkloadController { server, lines in
            server.put(canary, at: Workload.canaryKey)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
            Workload.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            // The first step; the next is a minute away, so the split stands while the Canary is edited.
            #expect(await eventually(.seconds(20)) { Workload.weights(server) == [80, 20] }, "\(lines.messages)")

            // Edited as kubectl would: on the stored object, whose status the controller keeps writing.
            server.edit(Workload.canaryKey) { object in
                object = (try? Self.edited(object, service: [
                    "port": 8080, "targetPort": 8081, "portName": "http-web", "hosts": ["www.example.com"], "gateways": ["other-gateway"],
                    "timeout": "5s",
                ])) ?? object
            }

            let port: JSONValue = [["name": "http-web", "port": 8080, "targetPort": 8081, "protocol": "TCP"]]
            #expect(await eventually(.seconds(20)) { Self.services.allSatisfy { Self.ports(server, $0) == port } },
                    "\(Self.services.map { Self.ports(server, $0) })")
            #expect(await eventually(.seconds(20)) { server.object(Self.virtualService)?["spec"]?["hosts"] == ["podinfo", "www.example.com"] })
            let spec = server.object(Self.virtualService)?["spec"]
            #expect(spec?["gateways"] == ["other-gateway"])
            #expect(spec?["http"]?[0]?["timeout"] == "5s")
            #expect(await eventually(.seconds(10)) { Self.destinationPorts(server) == [8080, 8080] }, "\(String(describing: spec))")
            // The selectors and owner references Serin wrote are still there; the release goes on where it was.
            #expect(server.object(Self.services[2])?["spec"]?["selector"] == ["app": "podinfo"])
            #expect(Workload.weights(server) == [80, 20])
            #expect(Workload.phase(server) == "Progressing")

            // Settled: a reconcile every 200 ms (the config resync) finds nothing to write, and nothing moves back.
            try await Task.sleep(for: .milliseconds(300))
            let before = Self.writes(server)
            try await Task.sleep(for: .seconds(1))
            #expect(Self.writes(server) == before, "written again: \(Self.writes(server).dropFirst(before.count))")
            #expect(Workload.weights(server) == [80, 20])
            #expect(Self.destinationPorts(server) == [8080, 8080])
            #expect(!lines.messages.contains { $0.contains("from the first step") }, "a new port restarted the release: \(lines.messages)")
        }
    }

    /// The VirtualService's routes.
    static func routes(_ server: KubernetesAPIServer) -> [JSONValue] {
        server.object(virtualService)?["spec"]?["http"]?.arrayValue ?? []
    }

    /// The routes named `names`, in that order (nil for a missing one).
    static func named(_ names: [String], in server: KubernetesAPIServer) -> [JSONValue?] {
        let routes = Self.routes(server)
        return names.map { name in routes.first { $0["name"]?.stringValue == name } }
    }

    /// A/B testing and the sticky canary: each strategy's analysis fields, the routes its release adds, and the
    /// Canary route's weights at its first step.
    static let releaseRouteStrategies: [(JSONValue, [String], [Int])] = [
        (["iterations": 3, "match": [["headers": ["x-canary": ["exact": "insider"]]]]], ["podinfo-canary-match"], [100, 0]),
        (["stepWeights": [20, 50], "sessionAffinity": ["cookieName": "flagger-cookie", "primaryCookieName": "flagger-primary-cookie"]],
         ["podinfo-canary-affinity", "podinfo-primary-affinity"], [80, 20]),
    ]

    /// The Canary route's weights (the last route: the ones a release adds stand ahead of it).
    static func canaryRouteWeights(_ server: KubernetesAPIServer) -> [Int] {
        routes(server).last?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    @Test(
        "an edited timeout, retries, headers and match reach the routes a release adds (A/B testing's, the sticky canary's) at the next reconcile, not at the next weight change; their destinations stay, and settled, reconciles write nothing",
        arguments: releaseRouteStrategies)
    func editReachesReleaseRoutes(strategy: JSONValue, names: [String], weights: [Int]) async throws {
        var analysis: [String: JSONValue] = [
            // The next check is a minute away: no weight changes while the Canary is edited.
            "interval": "1m", "threshold": 2,
            "metrics": [["name": "request-success-rate", "thresholdRange": ["min": 99], "interval": "1m"]],
        ]
        analysis.merge(strategy.objectValue ?? [:]) { $1 }
        let canary = try Workload.canary.applying([.replace(path: ["spec", "analysis"], value: .object(analysis))])
        try await Workload.withWorkloadController { server, lines in
            server.put(canary, at: Workload.canaryKey)
            #expect(await eventually(.seconds(20)) { Workload.replicas(server, Workload.target) == 0 }, "\(lines.messages)")
            Workload.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            // The first step's routes: the sticky canary's routes stand before the release too, expiring the last one's cookies.
            #expect(await eventually(.seconds(20)) {
                Workload.phase(server) == "Progressing" && Self.canaryRouteWeights(server) == weights && !Self.named(names, in: server).contains(nil)
                    && Self.named(names, in: server).allSatisfy { $0?["route"]?.arrayValue?.count == 1 }
            }, "\(Self.routes(server))")
            let before = Self.named(names, in: server).compactMap { $0 }
            let ownMatches = before.map { $0["match"]?.arrayValue ?? [] }

            let retries: JSONValue = ["attempts": 3, "perTryTimeout": "1s"]
            let headers: JSONValue = ["request": ["set": ["x-edited": "yes"]]]
            server.edit(Workload.canaryKey) { object in
                object = (try? Self.edited(object, service: [
                    "port": 9898, "targetPort": 9898, "gateways": ["public-gateway", "mesh"], "hosts": ["podinfo", "app.example.com"],
                    "timeout": "5s", "retries": retries, "headers": headers, "match": [["uri": ["prefix": "/api"]]],
                ])) ?? object
            }

            #expect(await eventually(.seconds(20)) {
                Self.named(names, in: server).allSatisfy { $0?["timeout"] == "5s" && $0?["retries"] == retries && $0?["headers"] == headers }
            }, "\(Self.routes(server))")
            let after = Self.named(names, in: server).compactMap { $0 }
            for (route, (old, own)) in zip(after, zip(before, ownMatches)) {
                // The release's own condition, now within the Canary route's new match.
                let expected = own.map { match -> JSONValue in
                    var fields = match.objectValue ?? [:]
                    fields["uri"] = ["prefix": "/api"]
                    return .object(fields)
                }
                #expect(route["match"] == .array(expected), "\(route)")
                #expect(route["route"] == old["route"], "the destinations and weights stay")
            }
            let owned = Self.routes(server).last
            #expect(owned?["timeout"] == "5s" && owned?["match"] == [["uri": ["prefix": "/api"]]], "\(String(describing: owned))")
            #expect(Workload.phase(server) == "Progressing")
            #expect(Self.canaryRouteWeights(server) == weights)

            // Settled: a reconcile every 200 ms (the config resync) finds nothing to write.
            try await Task.sleep(for: .milliseconds(300))
            let writes = Self.writes(server)
            try await Task.sleep(for: .seconds(1))
            #expect(Self.writes(server) == writes, "written again: \(Self.writes(server).dropFirst(writes.count))")
        }
    }

    /// The podinfo workload and its Canary (`canary`, Serin's podinfo unless given) in the double, with what Serin
    /// creates for it already created.
    static func prepared(
        _ canary: JSONValue = Workload.canary, _ body: (KubernetesAPIServer, KubernetesWorkloads, JSONValue) async throws -> Void
    ) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            Workload.putWorkload(server)
            let canary = server.put(canary, at: Workload.canaryKey)
            let workloads = KubernetesWorkloads(api: api)
            try await Self.prepare(workloads, canary)
            try await body(server, workloads, canary)
        }
    }

    static func prepare(_ workloads: KubernetesWorkloads, _ canary: JSONValue) async throws {
        let spec = try CanaryWatcher.spec(from: canary).get()
        _ = try await workloads.prepare(spec, canary: canary).get()
    }

    @Test("a weight step landing between Serin's read of the VirtualService and its update is kept: the 409 is retried from a fresh read")
    func conflictRetriedFromFreshRead() async throws {
        try await Self.prepared { server, workloads, canary in
            server.beforeNext("PUT") {
                server.edit(Self.virtualService) { object in
                    object = (try? object.applying([
                        .replace(path: ["spec", "http", "0", "route", "0", "weight"], value: 70),
                        .replace(path: ["spec", "http", "0", "route", "1", "weight"], value: 30),
                    ])) ?? object
                }
            }
            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 9898, "hosts": ["www.example.com"]]))
            let spec = server.object(Self.virtualService)?["spec"]
            #expect(spec?["hosts"] == ["podinfo", "www.example.com"])
            #expect(spec?["gateways"] == nil, "no gateways written: Istio's default, the mesh")
            #expect(Workload.weights(server) == [70, 30])
            let puts = server.requestLog.filter { $0 == "PUT /apis/networking.istio.io/v1beta1/namespaces/default/virtualservices/podinfo" }
            #expect(puts.count == 2, "\(server.requestLog)")
        }
    }

    @Test("a reconcile with spec.service unchanged writes nothing; fields another client added to a Service stay through an edit")
    func unchangedWritesNothing() async throws {
        try await Self.prepared { server, workloads, canary in
            server.edit(Self.services[1]) { object in
                object = (try? object.applying([.add(path: ["spec", "clusterIP"], value: "10.0.0.7")])) ?? object
            }
            let before = server.requestLog.count
            try await Self.prepare(workloads, canary)
            let written = server.requestLog.dropFirst(before).filter { !$0.hasPrefix("GET ") }
            #expect(written.isEmpty, "\(written)")

            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 80, "targetPort": 9898]))
            #expect(Self.ports(server, Self.services[1]) == [["name": "http", "port": 80, "targetPort": 9898, "protocol": "TCP"]])
            #expect(server.object(Self.services[1])?["spec"]?["clusterIP"] == "10.0.0.7")
        }
    }

    /// Each Service's `spec.clusterIP`.
    static func clusterIPs(_ server: KubernetesAPIServer) -> [JSONValue?] {
        services.map { server.object($0)?["spec"]?["clusterIP"] }
    }

    @Test("service.headless creates the three Services headless; a headless edit leaves each stored clusterIP, which the API server never changes in place, as Flagger does, while the rest of the edit reaches them")
    func headlessOnCreationOnly() async throws {
        try await Self.prepared(try Self.edited(Workload.canary, service: ["port": 9898, "headless": true])) { server, workloads, canary in
            #expect(Self.clusterIPs(server) == ["None", "None", "None"])
            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 8080]))
            #expect(Self.clusterIPs(server) == ["None", "None", "None"])
            #expect(Self.services.allSatisfy { Self.ports(server, $0)?[0]?["port"] == 8080 })
        }
        try await Self.prepared { server, workloads, canary in
            let allocated = Self.clusterIPs(server)
            #expect(allocated.allSatisfy { $0?.stringValue?.hasPrefix("10.96.") == true }, "\(allocated)")
            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 8080, "headless": true]))
            #expect(Self.clusterIPs(server) == allocated)
            #expect(Self.services.allSatisfy { Self.ports(server, $0)?[0]?["port"] == 8080 })
        }
    }

    @Test("service.trafficDistribution is on the three Services Serin creates, an edit of it reaches them, and taking it out of the Canary takes it off them")
    func trafficDistributionFollowsCanary() async throws {
        let canary = try Self.edited(Workload.canary, service: ["port": 9898, "trafficDistribution": "PreferClose"])
        try await Self.prepared(canary) { server, workloads, canary in
            func distributions() -> [JSONValue?] { Self.services.map { server.object($0)?["spec"]?["trafficDistribution"] } }
            #expect(distributions() == ["PreferClose", "PreferClose", "PreferClose"])
            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 9898, "trafficDistribution": "PreferSameZone"]))
            #expect(distributions() == ["PreferSameZone", "PreferSameZone", "PreferSameZone"])
            try await Self.prepare(workloads, try Self.edited(canary, service: ["port": 9898]))
            #expect(distributions() == [nil, nil, nil])
        }
    }

    @Test("a label or annotation key service.unmanagedMetadata names keeps another writer's value on the Services and VirtualService through a reconcile, where the Canary writes another; a key it does not name takes the Canary's value again")
    func unmanagedMetadataKeepsStoredValues() async throws {
        let service: JSONValue = [
            "port": 9898, "apex": ["labels": ["team": "shop", "tier": "web"], "annotations": ["owner": "shop"]],
            "unmanagedMetadata": ["labels": ["team"], "annotations": ["owner"]],
        ]
        try await Self.prepared(try Self.edited(Workload.canary, service: service)) { server, workloads, canary in
            let keys = [Self.services[0], Self.virtualService]
            #expect(keys.allSatisfy { server.object($0)?["metadata"]?["labels"]?["team"] == "shop" }, "created with the Canary's values")
            for key in keys {
                server.edit(key) { object in
                    object = (try? object.applying([
                        .replace(path: ["metadata", "labels", "team"], value: "search"),
                        .replace(path: ["metadata", "labels", "tier"], value: "batch"),
                        .replace(path: ["metadata", "annotations", "owner"], value: "search"),
                    ])) ?? object
                }
            }
            try await Self.prepare(workloads, canary)
            for key in keys {
                let metadata = server.object(key)?["metadata"]
                #expect(metadata?["labels"]?["team"] == "search" && metadata?["annotations"]?["owner"] == "search", "\(key.name): \(String(describing: metadata))")
                #expect(metadata?["labels"]?["tier"] == "web", "\(key.name): \(String(describing: metadata))")
            }
        }
    }
}
