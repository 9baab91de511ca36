import Foundation
import Logging
import NIOCore
import NIOPosix
import SerinController
import SerinCore
import SerinEmbedded
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// A Canary on a VirtualService's tcp routes, end to end on the embedded gateway: the tcp-echo backends of Istio's TCP
/// traffic shifting, the controller stepping the tcp route's weights, and webhooks as the analysis (the built-in
/// metrics count HTTP requests, which plain TCP has none of). Each runs twice: on a Gateway's TCP port, and on the
/// mesh's TCP listener for the service's port with the VirtualService bound to the mesh alone.
@Suite("Canary on tcp routes", .timeLimit(.minutes(2)))
struct TCPCanaryTests {
    let name = ResourceName(name: "tcp-echo")

    static func canary(webhook: String, gate: String) -> ManifestSource {
        SeedManifests.tcpEchoCanary(analysis: """
                interval: 300ms
                threshold: 2
                stepWeight: 20
                maxWeight: 60
                metrics: []
                webhooks:
                - {name: go, type: confirm-rollout, url: "\(gate)"}
                - {name: echo-check, type: rollout, url: "\(webhook)"}
            """)
    }

    /// The live weights of tcp-echo's tcp route by subset.
    static func weights(_ runtime: GatewayRuntime) async -> [String: Int] {
        let route = await runtime.live.config.virtualServices.first { $0.name.name == "tcp-echo" }?.tcp.first
        var weights: [String: Int] = [:]
        for weighted in route?.destinations ?? [] { weights[weighted.destination.subset ?? ""] = weighted.weight }
        return weights
    }

    /// Where the clients connect: a Gateway's TCP server, or the mesh.
    enum Serving: String, CaseIterable, CustomTestStringConvertible {
        case gateway, mesh
        var testDescription: String { rawValue }
    }

    /// Runs `body` against `serin up` over the tcp-echo manifests and a Canary whose rollout webhook answers `status`
    /// and whose confirm-rollout gate answers `gate` (403: the rollout waits with all traffic on v1); `body` gets the
    /// port the clients connect to, as `serving` says.
    func withRuntime(
        _ serving: Serving, webhookStatus status: Int, gate gateStatus: Int = 200,
        _ body: (GatewayRuntime, CanaryController, Int, any EventLoopGroup, WebhookServer, WebhookServer) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await VersionEchoBackend.start(version: "v1", group: group)
        let v2 = try await VersionEchoBackend.start(version: "v2", group: group)
        let hook = try await WebhookServer.start(group: group, status: status)
        let gate = try await WebhookServer.start(group: group, status: gateStatus)
        let decoded = SeedManifests.resources([
            SeedManifests.tcpEcho(v1Port: v1.port, v2Port: v2.port, mesh: serving == .mesh), Self.canary(webhook: hook.url, gate: gate.url),
        ])
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral,
            mesh: serving == .mesh ? (host: "127.0.0.1", port: 0) : nil, adminHost: "127.0.0.1", adminPort: 0,
            controller: .init(statePath: state, tickInterval: .milliseconds(50), logger: .discarding)
        )
        do {
            let port = serving == .mesh ? runtime.gateway.boundMeshTCPPorts[9000] : runtime.gateway.boundPort(forDeclared: 31400)
            try await body(runtime, try #require(runtime.controller), try #require(port), group, hook, gate)
        } catch {
            Issue.record(error)
        }
        await runtime.shutdown()
        await hook.close()
        await gate.close()
        await v1.close()
        await v2.close()
        try? await group.shutdownGracefully()
    }

    func finalStatus(_ controller: CanaryController) async -> CanaryStatus? {
        var status: CanaryStatus?
        _ = await eventually(.seconds(30)) {
            status = await controller.status(of: name)
            return status?.phase == .succeeded || status?.phase == .failed
        }
        return status
    }

    /// The version a new connection to `port` is greeted by.
    static func version(port: Int, group: any EventLoopGroup) async throws -> String? {
        let connection = try await RawConnection.connect(port: port, group: group)
        _ = await eventually(.seconds(5)) { connection.received.contains("\n") }
        await connection.close()
        return connection.received.split(separator: "\n").first.map(String.init)
    }

    @Test("with webhooks and no built-in metrics, the tcp route's weights step 20, 40, 60 and the canary is promoted", arguments: Serving.allCases)
    func promotes(_ serving: Serving) async throws {
        try await withRuntime(serving, webhookStatus: 200, gate: 403) { runtime, controller, port, group, _, gate in
            // Opened while the gate holds the release: all traffic is on v1.
            let open = try await RawConnection.connect(port: port, group: group)
            #expect(await open.waitFor("v1\n"), "\(open.received)")
            gate.answer(200)
            let final = await finalStatus(controller)
            #expect(final?.phase == .succeeded, "\(final?.message ?? "no status")")
            let events = try await controller.events(of: name).map(\.message)
            for step in [20, 40, 60] {
                #expect(events.contains { $0.contains("advance canary weight to \(step)%") }, "\(events)")
            }
            _ = await eventually(.seconds(5)) { await Self.weights(runtime) == ["v1": 0, "v2": 100] }
            let weights = await Self.weights(runtime)
            #expect(weights == ["v1": 0, "v2": 100])
            #expect(try await Self.version(port: port, group: group) == "v2")
            // A connection opened before the release began is spliced to v1 still: weights move new connections only.
            try await open.send("after")
            #expect(await open.waitFor("v1 after"), "\(open.received)")
            await open.close()
        }
    }

    @Test("a rollout webhook that starts failing once the canary has traffic rolls the tcp route back to the stable", arguments: Serving.allCases)
    func rollsBack(_ serving: Serving) async throws {
        try await withRuntime(serving, webhookStatus: 200) { runtime, controller, port, group, hook, _ in
            // The first step's weights reach the tcp route before the check turns: the rollback has something to undo.
            _ = await eventually(.seconds(20)) { (await Self.weights(runtime))["v2"] ?? 0 > 0 }
            hook.answer(500)
            let moved = await Self.weights(runtime)
            #expect((moved["v2"] ?? 0) > 0, "\(moved)")
            let final = await finalStatus(controller)
            #expect(final?.phase == .failed, "\(final?.message ?? "no status")")
            let events = try await controller.events(of: name).map(\.message)
            #expect(events.contains { $0.contains("echo-check") }, "\(events)")
            _ = await eventually(.seconds(5)) { await Self.weights(runtime) == ["v1": 100, "v2": 0] }
            let weights = await Self.weights(runtime)
            #expect(weights == ["v1": 100, "v2": 0])
            #expect(try await Self.version(port: port, group: group) == "v1")
        }
    }
}
