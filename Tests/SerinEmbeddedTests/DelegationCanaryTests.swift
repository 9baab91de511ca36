import Foundation
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// examples/delegation served: a root VirtualService on the gateway sends /reviews to its hostless delegate, and a
/// Canary on the delegate moves the delegate's weights — requests through the root follow, as with Flagger's
/// `service.delegation` on Istio. Real backends and clients on 127.0.0.1.
@Suite("A Canary on a delegate VirtualService", .timeLimit(.minutes(2)))
struct DelegationCanaryTests {
    static func withDelegation(
        canary: Bool, canaryErrorRate: Double = 0, _ body: (_ runtime: GatewayRuntime, _ port: Int, _ backends: TestBackends) async throws -> Void
    ) async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2", errorRate: canaryErrorRate)
        let decoded = SeedManifests.resources(SeedManifests.delegation(v1: v1.port, v2: v2.port, canary: canary ? SeedManifests.fastMeshCanary : nil))
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0,
            controller: canary ? .init(statePath: state, tickInterval: .milliseconds(50), logger: .discarding) : nil
        )
        let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await body(runtime, port, backends)) } catch { outcome = .failure(error) }
        await runtime.shutdown()
        for server in [v1, v2] { await server.close() }
        await backends.shutdown()
        try outcome.get()
    }

    @Test("the root sends /reviews to the delegate's route and answers everything else itself; /config names the root the route stands in for")
    func rootAndDelegate() async throws {
        try await Self.withDelegation(canary: false) { runtime, port, backends in
            let reviews = try await DemoTraffic.run(
                port: port, path: "/reviews/1", connections: 1, requestsPerConnection: 5, group: backends.group,
                headers: [("host", "bookinfo.example.com")])
            #expect(reviews.counts == ["v1": 5])
            let other = try await MeshTests.get("/ratings", host: "bookinfo.example.com", port: port, group: backends.group)
            #expect(other.status == 404 && other.bodyText == "bookinfo serves /reviews only\n", "\(other.bodyText)")
            let listener = try #require(GatewayAdmin.configDocument(runtime.gateway).listeners.first { $0.port == 80 })
            let route = try #require(listener.virtualHosts.first?.routes.first)
            #expect(route.virtualService == "default/reviews" && route.name == "reviews-split")
            #expect(route.delegatedBy == "default/bookinfo http[0]")
        }
    }

    @Test("a Canary on the delegate is promoted: requests through the root end on reviews-v2, and the root's own answers never change")
    func canaryPromoted() async throws {
        try await Self.withDelegation(canary: true) { runtime, port, backends in
            let controller = try #require(runtime.controller)
            let load = SteadyLoad()
            load.start(port: port, path: "/reviews/1", authority: "bookinfo.example.com", rate: 300, connections: 4, group: backends.group)
            let final = try await MeshTests.waitForFinish(controller)
            await load.stop()
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(load.failuresCausedByProxy.isEmpty, "\(load.failuresCausedByProxy.prefix(3))")
            let after = try await DemoTraffic.run(
                port: port, path: "/reviews/1", connections: 2, requestsPerConnection: 25, group: backends.group,
                headers: [("host", "bookinfo.example.com")])
            #expect(after.counts == ["v2": 50])
            let other = try await MeshTests.get("/ratings", host: "bookinfo.example.com", port: port, group: backends.group)
            #expect(other.status == 404)
        }
    }

    @Test("a failing Canary on the delegate is rolled back: its checks read the requests the root sent it")
    func canaryRolledBack() async throws {
        try await Self.withDelegation(canary: true, canaryErrorRate: 0.5) { runtime, port, backends in
            let controller = try #require(runtime.controller)
            let load = SteadyLoad()
            load.start(port: port, path: "/reviews/1", authority: "bookinfo.example.com", rate: 300, connections: 4, group: backends.group)
            let final = try await MeshTests.waitForFinish(controller)
            await load.stop()
            #expect(final.phase == .failed && final.canaryWeight == 0, "\(final.message ?? "")")
            let after = try await DemoTraffic.run(
                port: port, path: "/reviews/1", connections: 2, requestsPerConnection: 25, group: backends.group,
                headers: [("host", "bookinfo.example.com")])
            #expect(after.counts == ["v1": 50])
        }
    }
}
