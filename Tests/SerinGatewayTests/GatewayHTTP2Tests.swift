import Foundation
import NIOCore
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// HTTP/2 through the gateway with real clients on 127.0.0.1: curl with prior knowledge (h2c) and over TLS
/// (ALPN), h2load multiplexing streams on one connection, and Python grpcio calling a grpcio server behind the
/// gateway, trailers and all.
@Suite("Gateway HTTP/2 and gRPC", .timeLimit(.minutes(3)))
struct GatewayHTTP2Tests {
    /// A plaintext Gateway port 80 sending every host to v1 (`GatewayTLSTests.world`).
    static func plaintext(backend: Int) -> [ManifestSource] {
        let gateway = GatewayTLSTests.gateway("  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]")
        return [ManifestSource(path: "gateway.yaml", text: gateway + "\n" + GatewayTLSTests.world(backend: backend))]
    }

    /// grpc-echo with two endpoints (`ports`), its route retrying as `retries` says (YAML; empty: Istio's default).
    static func grpcEntry(ports: [Int], retries: String) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: echo}
        spec: {hosts: [grpc-echo], gateways: [web-gateway], http: [{\(retries) route: [{destination: {host: grpc-echo}}]}]}
        ---
        \(grpcService("grpc-echo", ports: ports))
        """
    }

    /// A ServiceEntry `name` on port 9000 speaking gRPC, its endpoints on 127.0.0.1 at `ports`.
    static func grpcService(_ name: String, ports: [Int]) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: ServiceEntry
        metadata: {name: \(name)}
        spec:
          hosts: [\(name)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9000, name: grpc, protocol: GRPC}]
          endpoints:
        \(ports.map { "  - {address: 127.0.0.1, ports: {grpc: \($0)}}" }.joined(separator: "\n"))
        """
    }

    static func grpcEntry(port: Int) -> String { grpcEntry(ports: [port], retries: "") }

    /// The gateway on an ephemeral port in front of the demo app's v1 (and, given `grpcPort`, a gRPC server).
    static func withGateway(grpcPort: Int? = nil, _ body: (GatewayServer, Int) async throws -> Void) async throws {
        try await ServedGateway.serve({ backend in
            plaintext(backend: backend) + (grpcPort.map { [ManifestSource(path: "grpc.yaml", text: grpcEntry(port: $0))] } ?? [])
        }) { server in
            try await body(server, try #require(server.boundPort(forDeclared: 80)))
        }
    }

    @Test("curl with HTTP/2 prior knowledge gets the page over h2c, and HTTP/1.1 on the same port still works")
    func priorKnowledge() async throws {
        try await Self.withGateway { _, port in
            let page = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge"])
            #expect(page.status == 200, "\(page.stderr)")
            #expect(page.headers.first?.hasPrefix("HTTP/2 200") == true, "\(page.headers)")
            #expect(page.body.contains("This is v1"))
            let posted = try await Curl.get("http://127.0.0.1:\(port)/echo", ["--http2-prior-knowledge", "--data-binary", "ping"])
            #expect(posted.status == 200, "\(posted.stderr)")
            #expect(posted.body.contains("host: 127.0.0.1:\(port)"), "\(posted.body)")
            let http1 = try await Curl.get("http://127.0.0.1:\(port)/", ["--http1.1"])
            #expect(http1.status == 200)
            #expect(http1.headers.first?.hasPrefix("HTTP/1.1 200") == true)
        }
    }

    @Test("curl's expect: 100-continue gets the gateway's 100 over h2c and over HTTP/1.1, so it sends its body at once (told to wait 30 s for one, within its 20 s limit) and the backend reads no expectation")
    func continueOverBothProtocols() async throws {
        try await Self.withGateway { _, port in
            for version in ["--http2-prior-knowledge", "--http1.1"] {
                let posted = try await Curl.get(
                    "http://127.0.0.1:\(port)/echo", [version, "-H", "expect: 100-continue", "--expect100-timeout", "30", "--data-binary", "ping"]
                )
                #expect(posted.status == 200, "\(version): \(posted.stderr)")
                #expect(posted.headers.first.map { $0.hasPrefix("HTTP/2 100") || $0.hasPrefix("HTTP/1.1 100") } == true, "\(version): \(posted.headers)")
                #expect(posted.body.contains("body-bytes: 4") && !posted.body.lowercased().contains("expect"), "\(version): \(posted.body)")
            }
        }
    }

    @Test("over h2c a 3 MB upload, three times a stream's window, reaches the upstream whole; an 8 MB answer comes back whole")
    func largeBodiesBothWays() async throws {
        try await Self.withGateway { _, port in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("serin-h2-upload-\(UUID().uuidString)")
            try Data(repeating: UInt8(ascii: "u"), count: 3 << 20).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let posted = try await Curl.get("http://127.0.0.1:\(port)/echo", ["--http2-prior-knowledge", "--data-binary", "@\(file.path)"])
            #expect(posted.status == 200, "\(posted.stderr)")
            #expect(posted.body.contains("body-bytes: \(3 << 20)"), "\(posted.body.prefix(400))")
        }
        let backends = TestBackends()
        let flood = try await FloodingBackend.start(group: backends.group, bodyBytes: 8 << 20)
        try await GatewayLimitsTests.withRawClient(endpoint: flood.port) { _, gateway, _ in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let page = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge", "-H", "host: web"])
            #expect(page.status == 200, "\(page.stderr)")
            #expect(page.headers.first?.hasPrefix("HTTP/2 200") == true, "\(page.headers)")
            #expect(page.body.utf8.count == 8 << 20, "\(page.body.utf8.count) bytes of 8 MiB arrived")
        }
        await flood.close()
        await backends.shutdown()
    }

    @Test(
        "curl over TLS negotiates h2 by ALPN; a client offering only http/1.1 gets HTTP/1.1, and an HTTP/2 preface sent after that ALPN is answered 505 in HTTP/1.1",
        .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this")
    )
    func alpn() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = GatewayTLSTests.gateway(GatewayTLSTests.httpsServer(tls: "{mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key}"))
        try await GatewayTLSTests.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let h2 = try await GatewayTLSTests.https("web.example.com", port: port, ca: ca, ["--http2"])
            #expect(h2.status == 200, "\(h2.stderr)")
            #expect(h2.headers.first?.hasPrefix("HTTP/2 200") == true, "\(h2.headers)")
            #expect(h2.body.contains("This is v1"))
            let echo = try await GatewayTLSTests.https("web.example.com", port: port, path: "/echo", ca: ca, ["--http2"])
            #expect(echo.body.contains("x-forwarded-proto: https"), "\(echo.body)")
            let http1 = try await GatewayTLSTests.https("web.example.com", port: port, ca: ca, ["--http1.1"])
            #expect(http1.headers.first?.hasPrefix("HTTP/1.1 200") == true, "\(http1.headers)")
            // ALPN chose HTTP/1.1: an HTTP/2 preface after it is an HTTP/1 request of a version not served, not h2.
            let preface = try await SerinProcess.run(
                [
                    "-c", "printf 'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n' | openssl s_client -quiet -ign_eof -alpn http/1.1 "
                        + "-connect 127.0.0.1:\(port) -servername web.example.com 2>/dev/null",
                ],
                program: URL(fileURLWithPath: "/bin/sh"), timeout: .seconds(20)
            )
            #expect(preface.stdout.hasPrefix("HTTP/1.1 505"), "\(preface.stdout.utf8.prefix(64).map { String($0, radix: 16) })")
        }
    }

    @Test(
        "h2load's 400 requests, 10 streams at a time on one connection, all succeed and are each counted once as 200, none as the client gone (DC)",
        .enabled(if: H2Load.shouldRun, Comment(rawValue: H2Load.skipReason))
    )
    func multiplexed() async throws {
        try await Self.withGateway { server, port in
            let result = try await SerinProcess.run(
                ["-n", "400", "-c", "1", "-m", "10", "http://127.0.0.1:\(port)/"], program: URL(fileURLWithPath: H2Load.path), timeout: .seconds(60)
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored"), "\(result.stdout)")
            #expect(result.stdout.contains("status codes: 400 2xx"), "\(result.stdout)")
            #expect(result.stdout.contains("Application protocol: h2c"), "\(result.stdout)")
            // A stream ends as its answer's last frame is written: that is the exchange's end, not a client that left.
            let live = server.telemetry.snapshot().series.filter { $0.key.kind == .live }
            #expect(live.values.reduce(0) { $0 + $1.requests } == 400, "\(live)")
            #expect(live.keys.allSatisfy { $0.responseCode == 200 && $0.responseFlags == .noFlag }, "\(live.keys)")
        }
    }

    @Test(
        "a gRPC client given the mesh listener as its proxy opens a CONNECT tunnel to grpc-echo:9000 and speaks HTTP/2 in it: the call is OK and counted",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcThroughTheMeshAsProxy() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1")
        defer { Task { await backend.stop() } }
        let set = ManifestSet(sources: [ManifestSource(path: "grpc.yaml", text: Self.grpcService("grpc-echo", ports: [backend.port]))])
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await gateway.openMesh(host: "127.0.0.1", port: 0)
            let mesh = try #require(gateway.meshAddress?.port)
            let outcome = try await GRPCPeers.call(target: "grpc-echo:9000", authority: "", message: "hi", proxy: "http://127.0.0.1:\(mesh)")
            #expect(outcome.code == "OK", "\(outcome)")
            #expect(outcome.body == "v1: hi")
            let metrics = PrometheusExposition.render(gateway.telemetry.snapshot())
            #expect(metrics.contains("destination_service_name=\"grpc-echo\""), "\(metrics)")
            #expect(metrics.contains("grpc_response_status=\"0\"") && metrics.contains("request_protocol=\"grpc\""), "\(metrics)")
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
    }

    @Test(
        "a gRPC call through the gateway reaches a grpcio server over HTTP/2: OK with its body and trailing metadata, as trailers to an HTTP/1.1 client too",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcOK() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1")
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo", message: "hi")
            #expect(outcome.code == "OK", "\(outcome)")
            #expect(outcome.body == "v1: hi")
            #expect(outcome.trailing["serin-version"] == "v1", "\(outcome.trailing)")
            // An HTTP/1.1 client gets the HTTP/2 server's trailers as chunked trailers.
            let message = try SerinProcess.temporaryDirectory().appendingPathComponent("call.bin")
            try Data([0, 0, 0, 0, 2] + Array("hi".utf8)).write(to: message)
            let http1 = try await Curl.get(
                "http://127.0.0.1:\(port)/serin.test.Echo/Say",
                [
                    "--http1.1", "--raw", "--data-binary", "@\(message.path)", "-H", "host: grpc-echo", "-H", "content-type: application/grpc",
                    "-H", "te: trailers",
                ]
            )
            #expect(http1.header("transfer-encoding") == "chunked", "\(http1.headers)")
            #expect(http1.body.contains("grpc-status: 0") && http1.body.contains("serin-version: v1"), "\(http1.body)")
            let metrics = PrometheusExposition.render(server.telemetry.snapshot())
            #expect(metrics.contains("grpc_response_status=\"0\""), "\(metrics)")
            #expect(metrics.contains("request_protocol=\"grpc\""))
        }
    }

    @Test(
        "fault.abort.grpcStatus answers a gRPC call with that status, trailers-only over HTTP 200, as Envoy's fault filter: the grpcio client gets UNAVAILABLE, counted with grpc_response_status 14 and FI, and nothing reaches the server",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcFaultAbort() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1")
        defer { Task { await backend.stop() } }
        let fault = "fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}},"
        try await ServedGateway.serve({ demo in
            Self.plaintext(backend: demo) + [ManifestSource(path: "grpc.yaml", text: Self.grpcEntry(ports: [backend.port], retries: fault))]
        }) { server in
            let port = try #require(server.boundPort(forDeclared: 80))
            let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo")
            #expect(outcome.code == "UNAVAILABLE", "\(outcome)")
            #expect(outcome.details == "fault filter abort", "\(outcome)")
            #expect(outcome.trailing["serin-version"] == nil, "the server never saw the call: \(outcome.trailing)")
            let metrics = PrometheusExposition.render(server.telemetry.snapshot())
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("istio_requests_total{") && $0.contains("grpc-echo") }
            let series = try #require(line, "\(metrics)")
            #expect(series.contains("response_code=\"200\"") && series.contains("grpc_response_status=\"14\"") && series.contains("response_flags=\"FI\""), "\(series)")
        }
    }

    @Test(
        "a gRPC failure passes through with its status, message and trailing metadata, and each try is counted by its status",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcFailure() async throws {
        let backend = try await GRPCPeers.startServer(version: "v2", failing: "UNAVAILABLE")
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo")
            #expect(outcome.code == "UNAVAILABLE", "\(outcome)")
            #expect(outcome.details == "v2 says UNAVAILABLE")
            #expect(outcome.trailing["serin-version"] == "v2", "\(outcome.trailing)")
            // A trailers-only answer's headers are its trailing metadata: the HTTP/1 framing the gateway used inside
            // is not among them.
            #expect(outcome.trailing["content-length"] == nil, "\(outcome.trailing)")
            let snapshot = server.telemetry.snapshot()
            let metrics = PrometheusExposition.render(snapshot)
            #expect(metrics.contains("grpc_response_status=\"14\""), "\(metrics)")
            // Istio's default retryOn has unavailable: the first try and two retries, each counted as a failure.
            #expect(snapshot.totals(destinationService: "grpc-echo").serverErrors == 3)
        }
    }

    @Test(
        "a gRPC call its client cancels (RST_STREAM CANCEL) before the answer is counted with response_flags DR, as Envoy counts it, not DC: the client's connection stayed open",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcCancelledByClient() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1", delay: .seconds(3))
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo", cancelAfter: .milliseconds(500))
            #expect(outcome.code == "CANCELLED", "\(outcome)")
            let flags = { Set(server.telemetry.snapshot().series.keys.filter { $0.destinationService == "grpc-echo" }.map(\.responseFlags)) }
            #expect(await eventually(.seconds(10)) { !flags().isEmpty }, "the cancelled call was never counted")
            #expect(flags() == [.downstreamRemoteReset], "\(flags())")
            #expect(PrometheusExposition.render(server.telemetry.snapshot()).contains("response_flags=\"DR\""))
        }
    }

    @Test(
        "a gRPC client's deadline (grpc-timeout) passing at the gateway is DEADLINE_EXCEEDED, as Envoy answers it, not UNAVAILABLE, counted so",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcClientDeadline() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1", delay: .seconds(3))
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            // curl keeps no deadline of its own: what it reads is the gateway's answer.
            let message = try SerinProcess.temporaryDirectory().appendingPathComponent("call.bin")
            try Data([0, 0, 0, 0, 2] + Array("hi".utf8)).write(to: message)
            let answer = try await Curl.get(
                "http://127.0.0.1:\(port)/serin.test.Echo/Say",
                [
                    "--http2-prior-knowledge", "--data-binary", "@\(message.path)", "-H", "host: grpc-echo", "-H", "content-type: application/grpc",
                    "-H", "te: trailers", "-H", "grpc-timeout: 300m",
                ]
            )
            #expect(answer.status == 200 && answer.header("grpc-status") == "4", "\(answer.headers)")
            #expect(server.telemetry.snapshot().series.keys.contains { $0.grpcStatus == "4" && $0.responseFlags == .upstreamRequestTimeout })
        }
    }

    @Test(
        "the gateway's own answers to a gRPC call are gRPC statuses, as Envoy gives them: no route is UNIMPLEMENTED, an upstream that refuses is UNAVAILABLE, each with its reason and counted as 200 with its grpc_response_status",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcLocalAnswers() async throws {
        let backends = TestBackends()
        let closed = try await backends.freePort()
        // Only grpc-echo is routed (no catch-all host), and nothing listens on its endpoint's port.
        let gateway = GatewayTLSTests.gateway("  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]")
        try await ServedGateway.serve({ _ in
            [ManifestSource(path: "grpc.yaml", text: gateway + "\n---\n" + Self.grpcEntry(port: closed))]
        }) { server in
            let port = try #require(server.boundPort(forDeclared: 80))
            let unrouted = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-missing")
            #expect(unrouted.code == "UNIMPLEMENTED", "\(unrouted)")
            #expect(unrouted.details.hasPrefix("no route: "), "\(unrouted.details)")
            #expect(unrouted.trailing["content-length"] == nil, "\(unrouted.trailing)")
            let refused = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo")
            #expect(refused.code == "UNAVAILABLE", "\(refused)")
            #expect(refused.details.contains("upstream connect error"), "\(refused.details)")
            let keys = server.telemetry.snapshot().series.keys
            #expect(keys.contains { $0.responseCode == 200 && $0.grpcStatus == "12" && $0.responseFlags == .noRoute })
            #expect(keys.contains { $0.destinationService == "grpc-echo" && $0.responseCode == 200 && $0.grpcStatus == "14" })
            #expect(!keys.contains { $0.responseCode == 404 || $0.responseCode == 503 }, "\(keys)")
            // The same answers to a request that is not gRPC stay HTTP's.
            let plain = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge", "-H", "host: grpc-missing"])
            #expect(plain.status == 404)
        }
        await backends.shutdown()
    }

    @Test(
        "an HTTP/2 upstream that resets a stream before its answer is 503 UC, as a closed HTTP/1 connection is, not a malformed answer (grpcio resets a GET that is not gRPC)",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func upstreamStreamReset() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1")
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let answer = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge", "-H", "host: grpc-echo"])
            #expect(answer.status == 503, "\(answer.status) \(answer.body)")
            #expect(answer.body.contains("the upstream reset the HTTP/2 stream"), "\(answer.body)")
            let flags = server.telemetry.snapshot().series.keys.filter { $0.destinationService == "grpc-echo" }.map(\.responseFlags)
            #expect(flags == [.upstreamConnectionTermination], "\(flags)")
        }
    }

    @Test(
        "a gRPC server that dies after its answer's headers: the client gets INTERNAL, not CANCELLED, and the call is counted 200 UC with grpc_response_status 2, a failure, as Envoy infers it",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcServerDiesMidAnswer() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1", diesMidAnswer: true)
        defer { Task { await backend.stop() } }
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo")
            #expect(outcome.code == "INTERNAL", "\(outcome)")
            let keys = server.telemetry.snapshot().series.keys.filter { $0.destinationService == "grpc-echo" }
            #expect(keys.map { "\($0.responseCode) \($0.grpcStatus ?? "-") \($0.responseFlags)" } == ["200 2 UC"], "\(keys)")
        }
    }

    @Test(
        "h2load's 400 gRPC calls on 4 connections reach the grpcio server over at most one HTTP/2 connection per gateway thread",
        .enabled(if: GRPCPeers.shouldRun && H2Load.shouldRun, Comment(rawValue: GRPCPeers.skipReason + "; " + H2Load.skipReason))
    )
    func upstreamMultiplexed() async throws {
        let backend = try await GRPCPeers.startServer(version: "v1")
        defer { Task { await backend.stop() } }
        let directory = try SerinProcess.temporaryDirectory()
        // One length-prefixed gRPC message: not compressed, 5 bytes, "hello".
        let message = directory.appendingPathComponent("call.bin")
        try Data([0, 0, 0, 0, 5] + Array("hello".utf8)).write(to: message)
        try await Self.withGateway(grpcPort: backend.port) { server, port in
            let result = try await SerinProcess.run(
                [
                    "-n", "400", "-c", "4", "-m", "10", "-d", message.path, "-H", "content-type: application/grpc", "-H", "te: trailers",
                    "-H", ":authority: grpc-echo", "http://127.0.0.1:\(port)/serin.test.Echo/Say",
                ],
                program: URL(fileURLWithPath: H2Load.path), timeout: .seconds(60)
            )
            #expect(result.stdout.contains("400 succeeded, 0 failed, 0 errored"), "\(result.stdout)")
            #expect(result.stdout.contains("status codes: 400 2xx"), "\(result.stdout)")
            let upstream = await server.http2UpstreamConnectionCount()
            #expect((1...2).contains(upstream), "\(upstream) upstream connections for 2 threads")
            let snapshot = server.telemetry.snapshot()
            let ok = snapshot.series.filter { $0.key.destinationService == "grpc-echo" && $0.key.grpcStatus == "0" }.map(\.value.requests).reduce(0, +)
            #expect(ok == 400)
        }
    }

    @Test(
        "a trailers-only UNAVAILABLE is retried on the next endpoint under Istio's default retryOn and retryOn unavailable, not under 5xx",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcRetries() async throws {
        let healthy = try await GRPCPeers.startServer(version: "v1")
        let failing = try await GRPCPeers.startServer(version: "v2", failing: "UNAVAILABLE")
        defer { Task { await healthy.stop(); await failing.stop() } }
        for (retries, retried) in [("", true), ("retries: {attempts: 2, retryOn: unavailable},", true), ("retries: {attempts: 2, retryOn: 5xx},", false)] {
            try await ServedGateway.serve({ backend in
                Self.plaintext(backend: backend)
                    + [ManifestSource(path: "grpc.yaml", text: Self.grpcEntry(ports: [healthy.port, failing.port], retries: retries))]
            }) { server in
                let port = try #require(server.boundPort(forDeclared: 80))
                var codes: [String] = []
                for _ in 0..<4 { codes.append(try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo").code) }
                if retried {
                    #expect(codes == ["OK", "OK", "OK", "OK"], "\(retries): \(codes)")
                } else {
                    #expect(codes.contains("UNAVAILABLE"), "\(retries): \(codes)")
                }
                let unavailable = server.telemetry.snapshot().series.filter { $0.key.grpcStatus == "14" }.map(\.value.requests).reduce(0, +)
                #expect(unavailable >= 1, "each attempt on the failing endpoint is counted with its status")
            }
        }
    }

    @Test(
        "a mirror of gRPC calls reaches a gRPC mirror over HTTP/2 and its answers are counted apart; the client gets only the real server's",
        .enabled(if: GRPCPeers.shouldRun, Comment(rawValue: GRPCPeers.skipReason))
    )
    func grpcMirror() async throws {
        let real = try await GRPCPeers.startServer(version: "v1")
        let shadow = try await GRPCPeers.startServer(version: "v2")
        defer { Task { await real.stop(); await shadow.stop() } }
        let shadowEntry = "---\n" + Self.grpcService("grpc-shadow", ports: [shadow.port])
        try await ServedGateway.serve({ backend in
            Self.plaintext(backend: backend) + [
                ManifestSource(
                    path: "grpc.yaml", text: Self.grpcEntry(ports: [real.port], retries: "mirror: {host: grpc-shadow},") + "\n" + shadowEntry)
            ]
        }) { server in
            let port = try #require(server.boundPort(forDeclared: 80))
            for index in 0..<3 {
                let outcome = try await GRPCPeers.call(target: "127.0.0.1:\(port)", authority: "grpc-echo", message: "m\(index)")
                #expect(outcome.code == "OK" && outcome.body == "v1: m\(index)", "\(outcome)")
            }
            let mirrored = await eventually(.seconds(10)) {
                server.telemetry.snapshot().series.filter { key, _ in
                    key.kind == .mirror && key.destinationService == "grpc-shadow" && key.responseCode == 200
                }.map(\.value.requests).reduce(0, +) == 3
            }
            #expect(mirrored, "\(server.telemetry.snapshot().series.filter { $0.key.kind == .mirror })")
        }
    }
}
