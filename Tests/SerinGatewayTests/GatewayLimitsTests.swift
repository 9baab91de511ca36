import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinCore
import SerinDemoApp
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// What the gateway does with clients and upstreams that misbehave: real sockets on 127.0.0.1, raw bytes
/// where a well-behaved HTTP client would not send them.
@Suite("Gateway limits and failures", .timeLimit(.minutes(2)))
struct GatewayLimitsTests {
    static let get = "GET / HTTP/1.1\r\nhost: web\r\n\r\n"

    /// A gateway with v1 behind it and tight limits, and a raw connection to it.
    static func withRawClient(
        limits: GatewayLimits = .default, endpoint: Int? = nil, _ body: (RawConnection, GatewayServer, TestBackends) async throws -> Void
    ) async throws {
        try await GatewayProxyTests.withSeedGateway(limits: limits, endpoint: endpoint) { gateway, port, backends in
            let raw = try await RawConnection.connect(port: port, group: backends.group)
            try await body(raw, gateway, backends)
            await raw.close()
        }
    }

    @Test("pipelined requests, sent in one write, are each proxied and answered in the order they were sent")
    func pipelinedInOrder() async throws {
        try await Self.withRawClient { raw, _, _ in
            try await raw.send(
                "GET /echo?n=1 HTTP/1.1\r\nhost: web\r\n\r\n"
                    + "POST /echo?n=2 HTTP/1.1\r\nhost: web\r\ncontent-length: 5\r\n\r\nhello"
                    + "GET /echo?n=3 HTTP/1.1\r\nhost: web\r\n\r\n"
            )
            #expect(await raw.waitFor("GET /echo?n=3"), "\(raw.received)")
            let text = raw.received
            let order = ["GET /echo?n=1", "POST /echo?n=2", "body-bytes: 5", "GET /echo?n=3"].map { text.range(of: $0)?.lowerBound }
            #expect(order.allSatisfy { $0 != nil } && order == order.sorted { $0! < $1! }, "\(text)")
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 3, "\(text)")
            #expect(!raw.isClosed, "the connection stays open for more")
        }
    }

    @Test("a malformed request pipelined behind a good one: the good one is answered first, then 400, then the connection closes")
    func pipelinedGarbageAfterGoodRequest() async throws {
        try await Self.withRawClient { raw, _, _ in
            try await raw.send("GET /echo?n=1 HTTP/1.1\r\nhost: web\r\n\r\nGARBAGE\r\n\r\n")
            #expect(await raw.waitForClose())
            let text = raw.received
            let good = text.range(of: "GET /echo?n=1")?.lowerBound
            let bad = text.range(of: "HTTP/1.1 400 Bad Request")?.lowerBound
            #expect(good != nil && bad != nil && good! < bad!, "\(text)")
        }
    }

    @Test("a 16 KiB request target, which Istio's gateway takes within Envoy's 60 KiB header budget, is proxied whole")
    func longTargetProxied() async throws {
        try await Self.withRawClient { raw, _, _ in
            let query = String(repeating: "q", count: 16_000)
            try await raw.send("GET /echo?\(query) HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("GET /echo?\(query)"), "\(raw.received.prefix(200))")
            #expect(raw.received.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(raw.received.prefix(200))")
        }
    }

    @Test(
        "answers a head over the limits with 414 or 431 and the limit, then closes",
        arguments: [
            ("GET /\(String(repeating: "a", count: 62_000)) HTTP/1.1\r\nhost: web\r\n\r\n", "414 URI Too Long", "exceeds the limit of 61440"),
            ("GET / HTTP/1.1\r\nhost: web\r\nx-big: \(String(repeating: "b", count: 62000))\r\n\r\n",
             "431 Request Header Fields Too Large", "exceed the limit of 61440"),
            ("GET / HTTP/1.1\r\nhost: web\r\n" + (1...120).map { "x-h\($0): v\r\n" }.joined() + "\r\n",
             "431 Request Header Fields Too Large", "121 request header fields exceed the limit of 100"),
            // Past what the gateway buffers of a head at all: a 431 before the head is even complete, never a hang.
            ("GET / HTTP/1.1\r\nhost: web\r\nx-huge: \(String(repeating: "c", count: 100_000))",
             "431 Request Header Fields Too Large", "request headers of more than 61440 bytes exceed the limit of 61440"),
        ]
    )
    func oversizedHead(request: String, status: String, reason: String) async throws {
        try await Self.withRawClient { raw, gateway, _ in
            try await raw.send(request)
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 \(status)\r\n"), "\(raw.received.prefix(200))")
            #expect(raw.received.contains(reason), "\(raw.received.prefix(300))")
            #expect(gateway.telemetry.snapshot().series.keys.contains { $0.responseFlags == .downstreamProtocolError })
        }
    }

    @Test(
        "answers malformed requests 400 and closes, without touching the upstream",
        arguments: [
            "GARBAGE\r\n\r\n",
            "GET / HTTP/X.9\r\nhost: web\r\n\r\n",
            "GET / HTTP/1.1\r\nhost web\r\n\r\n",
            "POST / HTTP/1.1\r\nhost: web\r\ncontent-length: abc\r\n\r\n",
            "POST / HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "\u{0}\u{1}\u{2}\u{3}\r\n\r\n",
        ]
    )
    func malformed(request: String) async throws {
        try await Self.withRawClient { raw, _, _ in
            try await raw.send(request)
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(raw.received.prefix(200))")
        }
    }

    @Test("closes a slow-loris connection with 408 once the head takes longer than the header timeout")
    func slowLoris() async throws {
        var limits = GatewayLimits.default
        limits.requestHeaderTimeout = .milliseconds(1500)
        try await Self.withRawClient(limits: limits) { raw, _, _ in
            // One complete request first: the timeout is per request head, not per connection.
            try await raw.send(Self.get)
            #expect(await raw.waitFor("This is v1"))
            let trickleStarted = ContinuousClock.now
            try await raw.send("GET / HTTP/1.1\r\n")
            try await Task.sleep(for: .milliseconds(200))
            // A starved machine may run this late, after the gateway gave up: the 408 below is what counts.
            try? await raw.send("host: web\r\n")
            #expect(await raw.waitForClose(timeout: .seconds(10)))
            #expect(ContinuousClock.now - trickleStarted >= .milliseconds(1500))
            #expect(raw.received.contains("HTTP/1.1 408 Request Timeout\r\n"))
            #expect(raw.received.contains("did not arrive within 1500ms"))
        }
    }

    @Test("closes a keep-alive connection idle past the idle timeout, and not before")
    func idleTimeout() async throws {
        var limits = GatewayLimits.default
        limits.idleTimeout = .seconds(2)
        try await Self.withRawClient(limits: limits) { _, gateway, backends in
            // Measured from the send: the gateway's idle clock starts after its answer, so a client that
            // notices the answer late (a starved test machine) cannot make this bound fail.
            let sent = ContinuousClock.now
            // The request goes out from the event loop as the connection opens: the idle clock runs from the accept,
            // and a test task starved past it between its connect and its send would find the connection closed.
            let raw = try await RawConnection.connect(
                port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group, sending: Array(Self.get.utf8))
            #expect(await raw.waitFor("This is v1"))
            #expect(await raw.waitForClose(timeout: .seconds(10)))
            #expect(ContinuousClock.now - sent >= .seconds(2))
            #expect(!raw.received.contains("408"))
            await raw.close()
        }
    }

    @Test("closes connections over the cap as they are accepted; the ones within it still work")
    func connectionCap() async throws {
        var limits = GatewayLimits.default
        limits.maxConnections = 2
        try await Self.withRawClient(limits: limits) { first, gateway, backends in
            try await first.send(Self.get)
            #expect(await first.waitFor("This is v1"))
            let second = try await RawConnection.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
            let third = try await RawConnection.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
            #expect(await third.waitForClose())
            try await second.send(Self.get)
            #expect(await second.waitFor("This is v1"))
            #expect(gateway.openConnectionCount == 2)
            await second.close()
            await third.close()
        }
    }

    @Test(
        "answers an upstream that breaks HTTP with 502, one that hangs up with 503, each counted with Envoy's flag",
        arguments: [
            ("this is not http\r\n\r\n", 502, "UPE", "sent a malformed response: "),
            // Said whole: the reason after the colon was empty.
            ("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n", 502, "UPE",
             "sent a malformed response: 101 Switching Protocols to a request that did not ask to switch"),
            ("", 503, "UC", "disconnect/reset before headers"),
        ]
    )
    func brokenUpstream(reply: String, status: Int, flags: String, reason: String) async throws {
        let backends = TestBackends()
        let upstream = try await RawServer.start(group: backends.group, reply: reply)
        try await GatewayProxyTests.withGateway(SeedMesh.config(endpoints: ["web-v1-service": upstream.port], uriMatch: nil)) { gateway, port in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            let response = try await client.send(.GET, "/")
            #expect(response.status == status)
            #expect(response.bodyText.contains(reason), "\(response.bodyText)")
            await client.close()
            #expect(gateway.telemetry.snapshot().series.keys.contains { $0.responseCode == status && $0.responseFlags.rawValue == flags })
        }
        await upstream.close()
        await backends.shutdown()
    }

    @Test("a request on a pooled connection the upstream closes unanswered is resent on a new one: the client gets the answer, and /metrics counts the resend")
    func pooledConnectionClosedIsResent() async throws {
        let backends = TestBackends()
        // Each connection answers one request, then closes on the next without a word.
        let upstream = try await RawServer.start(
            group: backends.group, reply: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n", closing: false, answers: 1
        )
        try await GatewayProxyTests.withGateway(SeedMesh.config(endpoints: ["web-v1-service": upstream.port], uriMatch: nil)) { gateway, port in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            for _ in 1...3 {
                let response = try await client.send(.GET, "/", timeout: .seconds(10))
                #expect(response.status == 200 && response.bodyText == "ok\n", "\(response.status) \(response.bodyText)")
            }
            await client.close()
            // The first request opened a connection; each later one found it closed, and went again on a new one.
            #expect(gateway.gatewayHealth.counts.upstreamResends == 2)
            #expect(GatewayAdmin.metricsText(gateway).contains("serin_gateway_upstream_requests_resent_total 2\n"))
            #expect(!gateway.telemetry.snapshot().series.keys.contains { $0.responseCode != 200 })
        }
        await upstream.close()
        await backends.shutdown()
    }

    @Test(
        "answers an upstream that speaks something other than HTTP and then waits with 502 at once, not when it hangs up",
        arguments: ["SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "\u{15}\u{03}\u{03}\u{00}\u{02}\u{02}\u{46}", "HTTP/2.0 200"]
    )
    func upstreamThatIsNotHTTP(banner: String) async throws {
        let backends = TestBackends()
        let upstream = try await RawServer.start(group: backends.group, reply: banner, closing: false)
        try await GatewayProxyTests.withGateway(SeedMesh.config(endpoints: ["web-v1-service": upstream.port], uriMatch: nil)) { gateway, port in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            // The route has no timeout: without the refusal, the request would wait as long as the upstream does.
            let response = try await client.send(.GET, "/", timeout: .seconds(10))
            #expect(response.status == 502)
            #expect(response.bodyText.contains("sent a malformed response: the status line is not HTTP/1.x"), "\(response.bodyText)")
            await client.close()
            #expect(gateway.telemetry.snapshot().series.keys.contains { $0.responseCode == 502 && $0.responseFlags.rawValue == "UPE" })
        }
        await upstream.close()
        await backends.shutdown()
    }

    @Test("a drain lets the request in flight finish with connection: close, closes an idle connection once quiet for its grace, and cuts none")
    func drainFinishesInFlight() async throws {
        let backends = TestBackends()
        // The backend holds its answer until the test lets go, so the drain surely begins mid-request.
        let backend = try await ObservedBackend.start(group: backends.group)
        backend.hold()
        // One event loop: the drain reaches the busy connection's loop before the idle one is seen closed (with
        // several loops, each begins draining in turn).
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: SeedMesh.config(endpoints: ["web-v1-service": backend.port], uriMatch: nil)))
        let port = try #require(gateway.boundPort(forDeclared: 80))
        let idle = try await RawConnection.connect(port: port, group: backends.group)
        let busy = try await RawConnection.connect(port: port, group: backends.group)
        try await busy.send(Self.get)
        #expect(await eventually(.seconds(20)) { backend.heldRequests == 1 })
        async let cut = gateway.shutdown(drainTimeout: .seconds(20))
        #expect(await idle.waitForClose(timeout: .seconds(10)))
        #expect(!busy.isClosed)
        backend.release()
        #expect(await busy.waitForClose(timeout: .seconds(10)))
        #expect(busy.received.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(busy.received.prefix(200))")
        #expect(busy.received.lowercased().contains("connection: close"))
        #expect(busy.received.hasSuffix("\r\n\r\nok\n"), "the whole answer arrived")
        #expect(await cut == 0)
        await backend.close()
        await backends.shutdown()
    }

    @Test("a drain that times out cuts the connections still busy and says how many; a second shutdown, during it or after, waits for it and says the same")
    func drainTimesOut() async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        backend.hold()
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: SeedMesh.config(endpoints: ["web-v1-service": backend.port], uriMatch: nil)))
        let busy = try await RawConnection.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
        try await busy.send(Self.get)
        #expect(await eventually(.seconds(20)) { backend.heldRequests == 1 })
        async let first = gateway.shutdown(drainTimeout: .milliseconds(300))
        async let during = gateway.shutdown()
        #expect(await [first, during] == [1, 1])
        #expect(await gateway.shutdown() == 1)
        #expect(await busy.waitForClose())
        #expect(!busy.received.contains("200 OK"), "the held answer never came")
        await backend.close()
        await backends.shutdown()
    }
}

@Suite("Gateway reconfiguration under load", .timeLimit(.minutes(2)))
struct GatewayReconfigurationTests {
    @Test("1,000 weight changes during a load fail no request and leak no connection")
    func thousandWeightChanges() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let endpoints = ["web-v1-service": v1.port, "web-v2-service": v2.port]
        try await GatewayProxyTests.withGateway(SeedMesh.config(v1Weight: 50, v2Weight: 50, endpoints: endpoints, uriMatch: nil)) {
            gateway, port in
            let connections = 4
            // The load goes on until every change is in, however the two tasks are scheduled.
            let changed = NIOLockedValueBox(false)
            async let traffic = DemoTraffic.run(
                port: port, connections: connections, requestsPerConnection: 100, group: backends.group, until: changed)
            for change in 0..<1000 {
                let v2Weight = change % 101
                try await gateway.install(
                    RouteTable(compiling: SeedMesh.config(v1Weight: 100 - v2Weight, v2Weight: v2Weight, endpoints: endpoints, uriMatch: nil))
                )
                if change % 50 == 0 { await Task.yield() }
            }
            changed.withLockedValue { $0 = true }
            let tally = try await traffic
            #expect(tally.failures.isEmpty, "\(tally.failures.count) failed: \(tally.failures.prefix(3))")
            #expect(tally.total >= connections * 100)
            let served = gateway.telemetry.snapshot().series.values.reduce(0) { $0 + $1.requests }
            #expect(served == tally.total, "every request the clients sent was answered through the gateway")
            #expect((tally.counts["v1"] ?? 0) > 0 && (tally.counts["v2"] ?? 0) > 0, "\(tally)")
            // Every client closed: none left open at the gateway, and at most one idle upstream connection
            // per client connection per endpoint kept for reuse.
            let deadline = ContinuousClock.now + .seconds(5)
            while gateway.openConnectionCount > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(gateway.openConnectionCount == 0)
            #expect(await gateway.idleUpstreamConnectionCount() <= connections * 2)
        }
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}
