import Foundation
import NIOHTTP1
import SerinController
import SerinCore
import SerinEmbedded
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// A Canary of a gRPC service (examples/grpc) with real grpcio servers behind the gateway and a grpcio client
/// calling through it: promoted when v2 answers, rolled back when v2 answers UNAVAILABLE, whose calls count as
/// failures in the success rate though their HTTP status is 200.
@Suite("Canary of a gRPC service", .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason)), .timeLimit(.minutes(3)))
struct GRPCCanaryTests {
    /// Runs `body` with the example's Canary under way. `metrics` is where its analysis reads (the gateway's own
    /// counters, or a real Prometheus scraping the gateway's admin port, which `adminPort` must then be). `load`: a
    /// grpcio client calling 100 times a second on port 80; without it, the test sends the calls.
    static func withRollout(
        v2Failing: String? = nil, canary: [(of: String, with: String)] = SeedManifests.fastMeshCanary,
        metrics: MetricSource = .gateway, adminPort: Int = 0, load: Bool = true,
        _ body: (_ runtime: GatewayRuntime, _ port: Int, _ load: GRPCPeers.Load?) async throws -> Void
    ) async throws {
        let v1 = try await GRPCPeers.startServer(version: "v1")
        let v2 = try await GRPCPeers.startServer(version: "v2", failing: v2Failing)
        let decoded = SeedManifests.resources(SeedManifests.grpc(v1: v1.port, v2: v2.port, canary: canary))
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let outcome: Result<Void, any Error>
        do {
            let runtime = try await GatewayRuntime.start(
                resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral,
                adminHost: "127.0.0.1", adminPort: adminPort,
                controller: .init(statePath: state, tickInterval: .milliseconds(50), metrics: metrics, logger: .discarding)
            )
            let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
            let calls = load ? try GRPCPeers.startLoad(target: "127.0.0.1:\(port)", authority: "echo", rate: 100) : nil
            do { outcome = .success(try await body(runtime, port, calls)) } catch { outcome = .failure(error) }
            await runtime.shutdown()
        } catch {
            outcome = .failure(error)
        }
        await v1.stop()
        await v2.stop()
        try outcome.get()
    }

    @Test("a healthy gRPC canary is promoted: Succeeded, every call answered OK, then all calls on v2")
    func promoted() async throws {
        try await Self.withRollout { runtime, port, load in
            let controller = try #require(runtime.controller)
            let final = try await MeshTests.waitForFinish(controller, canary: "echo")
            let codes = try await #require(load).stop()
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(Set(codes.keys) == ["OK"], "\(codes)")
            #expect(await runtime.liveWeights(of: "echo", settlingOn: ["echo-v1": 0, "echo-v2": 100]) == ["echo-v1": 0, "echo-v2": 100])
            let after = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "echo")
            #expect(after.code == "OK" && after.body == "v2: hello", "\(after)")
        }
    }

    @Test("a gRPC canary answering UNAVAILABLE is rolled back: its failures count against the success rate")
    func rolledBack() async throws {
        try await Self.withRollout(v2Failing: "UNAVAILABLE") { runtime, port, load in
            let controller = try #require(runtime.controller)
            let final = try await MeshTests.waitForFinish(controller, canary: "echo")
            let codes = try await #require(load).stop()
            #expect(final.phase == .failed)
            #expect(final.canaryWeight == 0)
            #expect((codes["UNAVAILABLE"] ?? 0) > 0, "\(codes)")
            let events = try await controller.events(of: ResourceName(name: "echo")).map(\.message)
            #expect(events.contains { $0.contains("request-success-rate") }, "\(events)")
            let metrics = PrometheusExposition.render(runtime.gateway.telemetry.snapshot())
            #expect(metrics.contains("grpc_response_status=\"14\""))
            #expect(await runtime.liveWeights(of: "echo", settlingOn: ["echo-v1": 100, "echo-v2": 0]) == ["echo-v1": 100, "echo-v2": 0])
            let after = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "echo")
            #expect(after.code == "OK" && after.body == "v1: hello", "\(after)")
        }
    }

    /// Analysis windows a Prometheus scraping every second can fill: a few scrapes each.
    static let prometheusCanary: [(of: String, with: String)] = [
        ("interval: 8s", "interval: 4s"), ("minRequests: 10", "minRequests: 5"), ("max: 250", "max: 5000"),
        ("stepWeight: 20", "stepWeight: 40"), ("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 90"),
    ]

    @Test(
        "judged through a real Prometheus, a gRPC canary answering UNAVAILABLE (HTTP 200) is rolled back: the built-in query counts grpc_response_status",
        .enabled(if: PrometheusServer.shouldRun, Comment(rawValue: PrometheusServer.skipReason))
    )
    func rolledBackOnPrometheusNumbers() async throws {
        let ports = TestBackends()
        let adminPort = try await ports.freePort()
        let prometheus = try await PrometheusServer.start(scraping: ["127.0.0.1:\(adminPort)"], group: ports.group)
        defer { prometheus.stop() }
        try await Self.withRollout(
            v2Failing: "UNAVAILABLE", canary: Self.prometheusCanary, metrics: .prometheus(address: prometheus.address),
            adminPort: adminPort
        ) { runtime, _, load in
            let controller = try #require(runtime.controller)
            let final = try await MeshTests.waitForFinish(controller, canary: "echo")
            let codes = try await #require(load).stop()
            #expect(final.phase == .failed, "\(final.message ?? "")")
            #expect((codes["UNAVAILABLE"] ?? 0) > 0, "\(codes)")
            let measured = try await controller.measurements(of: ResourceName(name: "echo"))
            let failed = try #require(measured.last { $0.metric == "request-success-rate" && $0.verdict.outcome == .fail }, "\(measured)")
            // Every canary call failed with UNAVAILABLE: a query counting only 5xx would read 100% here.
            #expect((failed.canaryValue ?? 100) < 50, "\(failed)")
        }
        await ports.shutdown()
    }

    @Test(
        "a canary of the same service called by browsers (gRPC-Web, through the example's GRPC-WEB server) answering UNAVAILABLE is rolled back: its calls, HTTP 200 with grpc-status 14, count against the success rate"
    )
    func grpcWebRolledBack() async throws {
        try await Self.withRollout(v2Failing: "UNAVAILABLE", load: false) { runtime, _, _ in
            let controller = try #require(runtime.controller)
            let webPort = try #require(runtime.gateway.boundPort(forDeclared: 8080))
            let backends = TestBackends()
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: webPort, group: backends.group)
            // The message "hello" in a gRPC frame, as a gRPC-Web client sends it.
            let call = [0, 0, 0, 0, 5] + Array("hello".utf8)
            var statuses: [String: Int] = [:]
            var final: CanaryStatus?
            let deadline = ContinuousClock.now + .seconds(60)
            while final == nil, ContinuousClock.now < deadline {
                let answer = try await client.send(
                    .POST, "/serin.test.Echo/Say",
                    headers: [("host", "echo"), ("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")], body: call
                )
                #expect(answer.status == 200 && answer.header("content-type") == "application/grpc-web+proto", "\(answer.status) \(answer.headers)")
                // A failure is trailers-only (its status in the headers); a success ends with the trailers' frame.
                let status = answer.header("grpc-status") ?? (answer.bodyText.contains("grpc-status:0\r\n") ? "0" : "none")
                statuses[status, default: 0] += 1
                if let status = await controller.status(of: ResourceName(name: "echo")), status.phase == .succeeded || status.phase == .failed {
                    final = status
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            await client.close()
            await backends.shutdown()
            let ended = try #require(final, "the rollout did not end: \(statuses)")
            #expect(ended.phase == .failed, "\(ended.message ?? "")")
            #expect(ended.canaryWeight == 0)
            #expect((statuses["14"] ?? 0) > 0 && (statuses["0"] ?? 0) > 0 && statuses["none"] == nil, "\(statuses)")
            let events = try await controller.events(of: ResourceName(name: "echo")).map(\.message)
            #expect(events.contains { $0.contains("request-success-rate") }, "\(events)")
            let metrics = PrometheusExposition.render(runtime.gateway.telemetry.snapshot())
            let failing = metrics.split(separator: "\n").first { $0.hasPrefix("istio_requests_total{") && $0.contains("echo-v2") && $0.contains("grpc_response_status=\"14\"") }
            #expect(failing?.contains("request_protocol=\"grpc\"") == true, "\(metrics)")
        }
    }

}
