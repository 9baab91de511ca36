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

    /// The podinfo workload and its Canary in the double, with what Serin creates for it already created.
    static func prepared(
        _ body: (KubernetesAPIServer, KubernetesWorkloads, JSONValue) async throws -> Void
    ) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            Workload.putWorkload(server)
            let canary = server.put(Workload.canary, at: Workload.canaryKey)
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
}
