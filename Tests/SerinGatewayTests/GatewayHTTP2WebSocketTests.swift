import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// WebSockets over HTTP/2 (RFC 8441 extended CONNECT) through the gateway, end to end: NIOHTTP2 clients opening
/// WebSockets on streams of one connection, NIOWebSocket servers over HTTP/1 behind the gateway.
@Suite("WebSockets over HTTP/2 through the gateway", .timeLimit(.minutes(3)))
struct GatewayHTTP2WebSocketTests {
    typealias Sockets = GatewayWebSocketTests

    /// An h2c connection to the gateway on `port`.
    static func connect(_ port: Int, _ group: any EventLoopGroup) async throws -> HTTP2StreamClient {
        try await HTTP2StreamClient.connect(port: port, group: group)
    }

    @Test("the gateway advertises extended CONNECT; a WebSocket on a stream echoes text and binary, and is counted once as 200")
    func echoes() async throws {
        try await Sockets.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            #expect(client.enableConnectProtocol == 1)
            let socket = try await client.open(authority: "chat.example.com", path: "/chat")
            for index in 0..<10 {
                try await socket.send(text: "hello \(index)")
                #expect(await socket.next() == .text("ws-v1: hello \(index)"))
            }
            // Larger than the stream's window many times over: flow control passes it in parts.
            let message = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try await socket.send(binary: message)
            #expect(await socket.next(timeout: .seconds(30)) == .binary(message))
            #expect(Sockets.requests(gateway, code: 200) == 1)
            #expect(Sockets.requests(gateway, code: 101) == 0)
            let series = try #require(gateway.telemetry.snapshot().series.first { $0.key.responseCode == 200 })
            #expect(series.key.destinationService == "ws-v1")
            #expect(series.key.responseFlags == .noFlag)
            try await socket.sendClose()
            #expect(await socket.next() == .close(code: 1000))
            #expect(await socket.waitForClose())
            await client.close()
            #expect(await Sockets.settles(gateway, servers))
            #expect(try #require(servers["ws-v1"]).upgrades == 1)
        }
    }

    @Test("a 90/10 route splits WebSockets opened 50 at a time on one connection, each staying on the version it reached")
    func canarySplitOnOneConnection() async throws {
        let routes: ([String: Int]) -> String = { _ in
            "  - route:\n    - {destination: {host: ws-v1}, weight: 90}\n    - {destination: {host: ws-v2}, weight: 10}"
        }
        try await Sockets.withWebSockets(["ws-v1", "ws-v2"], routes: routes) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            let reached = try await Sockets.versionsReached(rounds: 4, atOnce: 50) {
                try await client.open(authority: "chat.example.com", path: "/chat")
            }
            #expect(reached["mixed or lost"] == nil, "\(reached)")
            // 200 WebSockets at 10%: 20 expected; outside 5...40 is far beyond chance (p < 1e-4).
            #expect((5...40).contains(reached["ws-v2"] ?? 0), "\(reached)")
            #expect(Sockets.requests(gateway, code: 200) == 200)
            let toCanary = gateway.telemetry.snapshot().series.filter { $0.key.destinationService == "ws-v2" }.values
            #expect(toCanary.reduce(0) { $0 + $1.requests } == reached["ws-v2"] ?? 0)
            #expect(!client.isClosed)
            await client.close()
            #expect(await Sockets.settles(gateway, servers))
        }
    }

    @Test("an extended CONNECT with no route gets 404; an upstream declining the WebSocket gets its 403 through, counted as such")
    func refusals() async throws {
        let routes: ([String: Int]) -> String = { _ in "  - match: [{uri: {prefix: /chat}}, {uri: {prefix: /refuse}}]\n    route: [{destination: {host: ws-v1}}]" }
        try await Sockets.withWebSockets(["ws-v1"], routes: routes) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            let socket = try await client.open(authority: "chat.example.com", path: "/chat")
            let noRoute = await #expect(throws: HTTP2StreamClient.Refused.self) {
                _ = try await client.open(authority: "chat.example.com", path: "/elsewhere")
            }
            #expect(noRoute?.status == 404)
            let declined = await #expect(throws: HTTP2StreamClient.Refused.self) {
                _ = try await client.open(authority: "chat.example.com", path: "/refuse")
            }
            #expect(declined?.status == 403)
            #expect(declined?.body == "no websocket here\n")
            // The WebSocket opened before them, and the connection, serve on.
            try await socket.send(text: "after")
            #expect(await socket.next() == .text("ws-v1: after"))
            #expect(Sockets.requests(gateway, code: 404) == 1)
            #expect(Sockets.requests(gateway, code: 403) == 1)
            #expect(Sockets.requests(gateway, code: 200) == 1)
            #expect(try #require(servers["ws-v1"]).upgrades == 1)
            await client.close()
        }
    }

    @Test("a plain CONNECT on a stream is refused with 501, as on a Gateway's HTTP/1 port, and says why; the connection serves on")
    func plainConnectRefused() async throws {
        try await Sockets.withWebSockets(["ws-v1"]) { _, port, _, group in
            let client = try await Self.connect(port, group)
            let refused = await #expect(throws: HTTP2StreamClient.Refused.self) {
                _ = try await client.openStream(fields: [(":method", "CONNECT"), (":authority", "chat.example.com:443")])
            }
            #expect(refused?.status == 501)
            #expect(refused?.body.contains("extended CONNECT (RFC 8441)") == true, "\(refused?.body ?? "")")
            let socket = try await client.open(authority: "chat.example.com")
            try await socket.send(text: "still here")
            #expect(await socket.next() == .text("ws-v1: still here"))
            await client.close()
        }
    }

    @Test("the server closing the WebSocket ends the stream; the client ending its side (END_STREAM) ends it too")
    func closesFromEitherSide() async throws {
        try await Sockets.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            let closedByServer = try await client.open(authority: "chat.example.com")
            try await closedByServer.send(text: "close-please")
            #expect(await closedByServer.next() == .close(code: 1000))
            #expect(await closedByServer.waitForClose())
            // A half-close passes to the upstream, which ends the connection; the stream ends with it.
            let halfClosed = try await client.open(authority: "chat.example.com")
            try await halfClosed.send(text: "bye")
            #expect(await halfClosed.next() == .text("ws-v1: bye"))
            try await halfClosed.finishSendingStream()
            #expect(await halfClosed.waitForClose())
            #expect(await eventually(.seconds(10)) { servers.values.allSatisfy { $0.openConnections == 0 } })
            #expect(!client.isClosed)
            await client.close()
            #expect(await Sockets.settles(gateway, servers))
        }
    }

    @Test("a client resetting its stream closes the upstream WebSocket connection, and nothing else")
    func clientReset() async throws {
        try await Sockets.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            let kept = try await client.open(authority: "chat.example.com")
            let dropped = try await client.open(authority: "chat.example.com")
            try await dropped.send(text: "hi")
            #expect(await dropped.next() == .text("ws-v1: hi"))
            let server = try #require(servers["ws-v1"])
            #expect(server.openConnections == 2)
            await dropped.close()
            #expect(await eventually(.seconds(10)) { server.openConnections == 1 })
            try await kept.send(text: "still")
            #expect(await kept.next() == .text("ws-v1: still"))
            #expect(Sockets.requests(gateway, code: 200) == 2)
            await client.close()
            #expect(await Sockets.settles(gateway, servers))
        }
    }

    @Test("a route timeout bounds the wait for the switch, not a WebSocket that lives longer; a silent one ends at the idle timeout")
    func timeouts() async throws {
        var limits = GatewayLimits.default
        limits.idleTimeout = .seconds(2)
        limits.tunnelIdleTimeout = .seconds(2)
        let routes: ([String: Int]) -> String = { _ in "  - route: [{destination: {host: ws-v1}}]\n    timeout: 300ms" }
        try await Sockets.withWebSockets(["ws-v1"], routes: routes, limits: limits) { gateway, port, servers, group in
            let client = try await Self.connect(port, group)
            for attempt in 1...3 {
                // Ten times a second from the connection's event loop as its stream opens, far inside the idle
                // timeout even when the machine's cooperative threads are busy with other tests (under a full run's
                // load the next stream can take longer than the timeout to open), until the quiet one goes.
                let busy = try await client.open(authority: "chat.example.com", ticking: .init("tick", every: .milliseconds(100)))
                let ticker = try #require(busy.ticker)
                let started = ContinuousClock.now
                let quiet = try await client.open(authority: "chat.example.com")
                while !quiet.isClosed, !busy.isClosed, ContinuousClock.now - started < .seconds(20) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let ticks = await ticker.stop()
                if busy.isClosed, ticker.longestGap >= .seconds(1) {
                    // The machine held the ticks back for half the idle timeout or more: the busy stream was silent
                    // too, and closing it was right. The scenario did not happen; it is tried again.
                    print("timeouts: attempt \(attempt): the busy stream's ticks were held back \(ticker.longestGap); trying again")
                    await quiet.close()
                    if attempt == 3 { Issue.record("the busy stream's ticks were held back in each of 3 attempts") }
                    continue
                }
                #expect(quiet.isClosed)
                #expect(ContinuousClock.now - started >= .seconds(2))
                #expect(!busy.isClosed)
                for _ in 0..<ticks { #expect(await busy.next() == .text("ws-v1: tick")) }
                break
            }
            #expect(Sockets.requests(gateway, code: 504) == 0)
            await client.close()
            #expect(await Sockets.settles(gateway, servers))
        }
    }

    @Test(
        "over TLS, a WebSocket opens on an ALPN h2 connection and echoes",
        .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this")
    )
    func overTLS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("chat", hosts: ["chat.example.com"])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await WebSocketEchoServer.start(name: "ws-v1", group: group)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        do {
            let yaml = GatewayTLSTests.gateway(
                GatewayTLSTests.httpsServer(hosts: ["chat.example.com"], tls: "{mode: SIMPLE, serverCertificate: chat.crt, privateKey: chat.key}")
            )
            let file = certificates.directory.appendingPathComponent("gateway.yaml").path
            let routes = "  - route: [{destination: {host: ws-v1}}]"
            try (yaml + "\n---\n" + Self.virtualService(routes: routes, to: server.port)).write(toFile: file, atomically: true, encoding: .utf8)
            let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
            #expect(set.errors.isEmpty, "\(set.errors)")
            try await gateway.install(RouteTable(compiling: set.config))
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let client = try await HTTP2StreamClient.connect(
                port: port, trusting: certificates.ca.certificate, serverName: "chat.example.com", group: group
            )
            #expect(client.enableConnectProtocol == 1)
            let socket = try await client.open(authority: "chat.example.com", path: "/chat")
            try await socket.send(text: "secret")
            #expect(await socket.next() == .text("ws-v1: secret"))
            try await socket.send(binary: [1, 2, 3])
            #expect(await socket.next() == .binary([1, 2, 3]))
            #expect(Sockets.requests(gateway, code: 200) == 1)
            await client.close()
        } catch {
            await gateway.shutdown()
            await server.close()
            try? await group.shutdownGracefully()
            throw error
        }
        await gateway.shutdown()
        await server.close()
        try await group.shutdownGracefully()
    }

    /// A VirtualService on web-gateway routing as `routes` says, and ws-v1's ServiceEntry at `port`.
    static func virtualService(routes: String, to port: Int) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: chat}
        spec:
          hosts: ["*"]
          gateways: [web-gateway]
          http:
        \(routes)
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: ServiceEntry
        metadata: {name: ws-v1}
        spec:
          hosts: [ws-v1]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints: [{address: 127.0.0.1, ports: {http: \(port)}}]
        """
    }

    @Test("a drain on shutdown lets a WebSocket on a stream live until the drain's deadline, then closes it")
    func drainClosesTunnels() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await WebSocketEchoServer.start(name: "ws-v1", group: group)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(
            try RoutePolicyTests.table(routes: "  - route: [{destination: {host: ws-v1}}]", services: ["ws-v1": [server.port]])
        )
        let client = try await Self.connect(try #require(gateway.boundPort(forDeclared: 80)), group)
        let socket = try await client.open(authority: "chat.example.com")
        try await socket.send(text: "before")
        #expect(await socket.next() == .text("ws-v1: before"))
        let started = ContinuousClock.now
        _ = await gateway.shutdown(drainTimeout: .milliseconds(800))
        #expect(ContinuousClock.now - started >= .milliseconds(800))
        #expect(await socket.waitForClose())
        #expect(await eventually(.seconds(10)) { server.openConnections == 0 })
        await client.close()
        await server.close()
        try await group.shutdownGracefully()
    }
}
