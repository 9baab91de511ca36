import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// WebSockets through the gateway, end to end: NIOWebSocket servers as the backends, a NIOWebSocket client, the
/// gateway's upgrade pass-through and byte tunnel between them.
@Suite("WebSockets through the gateway", .timeLimit(.minutes(3)))
struct GatewayWebSocketTests {
    /// WebSocket servers `ws-v1`, `ws-v2`... and a gateway routing `routes` (YAML under `http:`) to them.
    static func withWebSockets(
        _ names: [String], routes: (([String: Int]) -> String)? = nil, limits: GatewayLimits = .default,
        _ body: (GatewayServer, Int, [String: WebSocketEchoServer], any EventLoopGroup) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var servers: [String: WebSocketEchoServer] = [:]
        for name in names { servers[name] = try await WebSocketEchoServer.start(name: name, group: group) }
        let ports = servers.mapValues { [$0.port] }
        let route = routes?(servers.mapValues(\.port)) ?? "  - route: [{destination: {host: \(names[0])}}]"
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral, limits: limits)
        do {
            try await gateway.install(try RoutePolicyTests.table(routes: route, services: ports))
            try await body(gateway, try #require(gateway.boundPort(forDeclared: 80)), servers, group)
        } catch {
            await gateway.shutdown()
            for server in servers.values { await server.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        await gateway.shutdown()
        for server in servers.values { await server.close() }
        try await group.shutdownGracefully()
    }

    /// A WebSocket through the gateway on `port` to `chat.example.com`.
    static func chat(_ port: Int, _ group: any EventLoopGroup) async throws -> WebSocketClient {
        try await WebSocketClient.connect(port: port, host: "chat.example.com", group: group)
    }

    static func requests(_ gateway: GatewayServer, code: Int) -> Int {
        gateway.telemetry.snapshot().series.filter { $0.key.responseCode == code }.values.reduce(0) { $0 + $1.requests }
    }

    static func settles(_ gateway: GatewayServer, _ servers: [String: WebSocketEchoServer]) async -> Bool {
        await eventually(.seconds(20)) {
            gateway.openConnectionCount == 0 && servers.values.allSatisfy { $0.openConnections == 0 }
        }
    }

    /// How many WebSockets reached each version (by the name in their replies), `atOnce` opened together by `open`
    /// for each of `rounds`, three messages each; one whose replies named two versions, or none, is "mixed or lost".
    static func versionsReached(
        rounds: Int, atOnce: Int, open: @escaping @Sendable () async throws -> WebSocketClient
    ) async throws -> [String: Int] {
        var reached: [String: Int] = [:]
        for _ in 0..<rounds {
            let versions = try await withThrowingTaskGroup(of: String?.self) { tasks in
                for _ in 0..<atOnce {
                    tasks.addTask {
                        let client = try await open()
                        var versions: Set<String> = []
                        for index in 0..<3 {
                            try await client.send(text: "m\(index)")
                            if case .text(let reply) = await client.next(), reply.hasSuffix(": m\(index)") {
                                versions.insert(String(reply.prefix { $0 != ":" }))
                            }
                        }
                        await client.close()
                        return versions.count == 1 ? versions.first : nil
                    }
                }
                var all: [String?] = []
                for try await version in tasks { all.append(version) }
                return all
            }
            for version in versions { reached[version ?? "mixed or lost", default: 0] += 1 }
        }
        return reached
    }

    @Test("a WebSocket handshake is passed through, messages echo both ways, and the connection is counted once as 101")
    func echoes() async throws {
        try await Self.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await WebSocketClient.connect(port: port, host: "chat.example.com", path: "/chat", group: group)
            for index in 0..<20 {
                try await client.send(text: "hello \(index)")
                #expect(await client.next() == .text("ws-v1: hello \(index)"))
            }
            #expect(Self.requests(gateway, code: 101) == 1)
            let series = try #require(gateway.telemetry.snapshot().series.first { $0.key.responseCode == 101 })
            #expect(series.key.destinationService == "ws-v1")
            #expect(series.key.responseFlags == .noFlag)
            // The client closes: the server answers the close, and every connection on the way ends.
            try await client.sendClose()
            #expect(await client.next() == .close(code: 1000))
            #expect(await client.waitForClose())
            #expect(await Self.settles(gateway, servers))
            #expect(Self.requests(gateway, code: 101) == 1)
            #expect(try #require(servers["ws-v1"]).upgrades == 1)
        }
    }

    @Test("messages of several megabytes pass both ways intact, with backpressure on the tunnel")
    func largeMessages() async throws {
        try await Self.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await Self.chat(port, group)
            var random = SeededRandom.fromEnvironment(fallback: 7)
            for size in [1 << 20, 8 << 20, 3 << 20] {
                let message = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
                try await client.send(binary: message)
                let echoed = await client.next(timeout: .seconds(60))
                #expect(echoed == .binary(message), "a \(size)-byte message came back different (seed \(random.seed))")
            }
            await client.close()
            #expect(await Self.settles(gateway, servers))
        }
    }

    @Test("the server closing the WebSocket ends the tunnel: the client gets the close frame and the connection ends")
    func serverCloses() async throws {
        try await Self.withWebSockets(["ws-v1"]) { gateway, port, servers, group in
            let client = try await Self.chat(port, group)
            try await client.send(text: "close-please")
            #expect(await client.next() == .close(code: 1000))
            #expect(await client.waitForClose())
            #expect(await Self.settles(gateway, servers))
        }
    }

    @Test("an upstream that declines the upgrade gives a normal response, counted with its own status")
    func declined() async throws {
        try await Self.withWebSockets(["ws-v1"]) { gateway, port, _, group in
            await #expect(throws: WebSocketClient.NotUpgraded.self) {
                _ = try await WebSocketClient.connect(port: port, host: "chat.example.com", path: "/refuse", group: group)
            }
            let raw = try await RawConnection.connect(port: port, group: group)
            try await raw.send(
                "GET /refuse HTTP/1.1\r\nhost: chat.example.com\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
                    + "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            #expect(await raw.waitFor("no websocket here"))
            #expect(raw.received.hasPrefix("HTTP/1.1 403 "))
            #expect(!raw.received.lowercased().contains("upgrade: websocket"))
            await raw.close()
            #expect(Self.requests(gateway, code: 403) == 2)
            #expect(Self.requests(gateway, code: 101) == 0)
        }
    }

    @Test("an upgrade to another protocol than websocket is refused with 403 before any routing, as Envoy refuses an upgrade Istio's upgrade_configs do not list; WebSocket in any letter case passes")
    func otherUpgradesRefused() async throws {
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        let route = "  - route: [{destination: {host: web-v1-service}}]"
        try await RoutePolicyTests.withGateway(
            try RoutePolicyTests.table(routes: route, services: ["web-v1-service": [v1.port]]), group: backends
        ) { gateway, client in
            let refused = try await client.send(.GET, "/echo", headers: [("connection", "upgrade"), ("upgrade", "TLS/1.2")])
            #expect(refused.status == 403)
            #expect(refused.bodyText.contains("upgrade_failed: the gateway switches to websocket only"), "\(refused.bodyText)")
            #expect(!gateway.telemetry.snapshot().series.contains { $0.key.responseCode == 200 }, "nothing reached the upstream")
            // Without `Connection: upgrade` it is no switch at all: the request goes on.
            let plain = try await client.send(.GET, "/echo", headers: [("upgrade", "TLS/1.2")])
            #expect(plain.status == 200)
        }
        await v1.close()
        await backends.shutdown()
    }

    @Test("Upgrade: h2c is not passed on: the request goes upstream as plain HTTP/1.1 without it")
    func h2cIsStripped() async throws {
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        let route = "  - route: [{destination: {host: web-v1-service}}]"
        try await RoutePolicyTests.withGateway(
            try RoutePolicyTests.table(routes: route, services: ["web-v1-service": [v1.port]]), group: backends
        ) { _, client in
            let echo = try await client.send(.GET, "/echo", headers: [("connection", "upgrade, http2-settings"), ("upgrade", "h2c"), ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA")])
            #expect(echo.status == 200)
            #expect(!echo.bodyText.lowercased().contains("upgrade"), "\(echo.bodyText)")
            #expect(!echo.bodyText.lowercased().contains("http2-settings"), "\(echo.bodyText)")
        }
        await v1.close()
        await backends.shutdown()
    }

    @Test("a WebSocket silent for longer than the keep-alive idle timeout stays open, as Istio never times out a WebSocket's stream for silence: only the tunnel idle timeout ends it")
    func keepAliveIdleTimeoutSparesTunnel() async throws {
        var limits = GatewayLimits.default
        limits.idleTimeout = .milliseconds(500)
        try await Self.withWebSockets(["ws-v1"], limits: limits) { _, port, _, group in
            let client = try await Self.chat(port, group)
            try await Task.sleep(for: .seconds(2))
            #expect(!client.isClosed, "closed by the 500ms keep-alive idle timeout")
            try await client.send(text: "still there?")
            #expect(await client.next() == .text("ws-v1: still there?"))
            await client.close()
        }
    }

    @Test("a route timeout bounds the wait for the upgrade, not a tunnel that lives longer")
    func routeTimeoutSparesTunnel() async throws {
        let routes: ([String: Int]) -> String = { _ in "  - route: [{destination: {host: ws-v1}}]\n    timeout: 300ms" }
        try await Self.withWebSockets(["ws-v1"], routes: routes) { gateway, port, _, group in
            let client = try await Self.chat(port, group)
            try await Task.sleep(for: .seconds(1))
            try await client.send(text: "still there?")
            #expect(await client.next() == .text("ws-v1: still there?"))
            #expect(!client.isClosed)
            #expect(Self.requests(gateway, code: 504) == 0)
            await client.close()
        }
    }

    @Test("a tunnel with no bytes either way for the idle timeout is closed; one with traffic is not")
    func idleTunnelCloses() async throws {
        var limits = GatewayLimits.default
        limits.tunnelIdleTimeout = .seconds(3)
        try await Self.withWebSockets(["ws-v1"], limits: limits) { gateway, port, servers, group in
            for attempt in 1...3 {
                // Ticks ten times a second from the client's event loop as soon as the handshake ends, far inside the
                // idle timeout even when the machine's cooperative threads are busy with other tests (under a full
                // run's load the next WebSocket once took longer than the timeout to open), until the quiet one goes.
                let busy = try await WebSocketClient.connect(
                    port: port, host: "chat.example.com", ticking: .init("tick", every: .milliseconds(100)), group: group)
                let ticker = try #require(busy.ticker)
                let started = ContinuousClock.now
                let quiet = try await Self.chat(port, group)
                while !quiet.isClosed, !busy.isClosed, ContinuousClock.now - started < .seconds(20) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let ticks = await ticker.stop()
                if busy.isClosed, ticker.longestGap >= .milliseconds(1500) {
                    // The machine held the ticks back for half the idle timeout or more: the busy tunnel was silent
                    // too, and closing it was right. The scenario did not happen; it is tried again.
                    print("idleTunnelCloses: attempt \(attempt): the busy tunnel's ticks were held back \(ticker.longestGap); trying again")
                    await quiet.close()
                    if attempt == 3 { Issue.record("the busy tunnel's ticks were held back in each of 3 attempts") }
                    continue
                }
                #expect(ContinuousClock.now - started >= .seconds(3))
                #expect(await quiet.waitForClose())
                #expect(!busy.isClosed)
                if !busy.isClosed {
                    for _ in 0..<ticks { #expect(await busy.next() == .text("ws-v1: tick")) }
                }
                await busy.close()
                break
            }
            #expect(await Self.settles(gateway, servers))
        }
    }

    @Test("a 90/10 route splits WebSocket handshakes by weight, and each connection stays on the version it started on")
    func canarySplit() async throws {
        let routes: ([String: Int]) -> String = { _ in
            "  - route:\n    - {destination: {host: ws-v1}, weight: 90}\n    - {destination: {host: ws-v2}, weight: 10}"
        }
        try await Self.withWebSockets(["ws-v1", "ws-v2"], routes: routes) { gateway, port, servers, group in
            let reached = try await Self.versionsReached(rounds: 20, atOnce: 10) { try await Self.chat(port, group) }
            #expect(reached["mixed or lost"] == nil, "\(reached)")
            // 200 handshakes at 10%: 20 expected; outside 5...40 is far beyond chance (p < 1e-4).
            #expect((5...40).contains(reached["ws-v2"] ?? 0), "\(reached)")
            #expect(Self.requests(gateway, code: 101) == 200)
            let toCanary = gateway.telemetry.snapshot().series.filter { $0.key.destinationService == "ws-v2" }.values
            #expect(toCanary.reduce(0) { $0 + $1.requests } == reached["ws-v2"] ?? 0)
            #expect(await Self.settles(gateway, servers))
        }
    }

    @Test("examples/websocket: the chat example's 90/10 split serves WebSockets from both versions through the gateway")
    func example() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let v1 = try await WebSocketEchoServer.start(name: "chat-v1", group: group)
        let v2 = try await WebSocketEchoServer.start(name: "chat-v2", group: group)
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/websocket/chat.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "http: 9101", with: "http: \(v1.port)")
            .replacingOccurrences(of: "http: 9102", with: "http: \(v2.port)")
        let set = ManifestSet(sources: [ManifestSource(path: "chat.yaml", text: text)])
        #expect(set.errors.isEmpty && set.warnings.isEmpty, "\(set.errors) \(set.warnings)")
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: set.config))
        let port = try #require(gateway.boundPort(forDeclared: 80))
        var reached: Set<String> = []
        for _ in 0..<100 where reached.count < 2 {
            let client = try await Self.chat(port, group)
            try await client.send(text: "hi")
            if case .text(let reply) = await client.next() { reached.insert(String(reply.prefix { $0 != ":" })) }
            await client.close()
        }
        #expect(reached == ["chat-v1", "chat-v2"])
        await gateway.shutdown()
        await v1.close()
        await v2.close()
        try await group.shutdownGracefully()
    }

    @Test("a drain on shutdown lets a tunnel live until the drain's deadline, then closes it")
    func drainClosesTunnels() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await WebSocketEchoServer.start(name: "ws-v1", group: group)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(
            try RoutePolicyTests.table(routes: "  - route: [{destination: {host: ws-v1}}]", services: ["ws-v1": [server.port]])
        )
        let client = try await Self.chat(try #require(gateway.boundPort(forDeclared: 80)), group)
        try await client.send(text: "before")
        #expect(await client.next() == .text("ws-v1: before"))
        let started = ContinuousClock.now
        let cut = await gateway.shutdown(drainTimeout: .milliseconds(800))
        #expect(ContinuousClock.now - started >= .milliseconds(800))
        #expect(cut == 1)
        #expect(await client.waitForClose())
        #expect(await eventually(.seconds(10)) { server.openConnections == 0 })
        await server.close()
        try await group.shutdownGracefully()
    }

    /// A one-thread gateway routing everything to a `HalfClosingUpgradeServer`.
    static func withRawUpgrades(_ body: (GatewayServer, HalfClosingUpgradeServer, any EventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = try await HalfClosingUpgradeServer.start(group: group)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        do {
            try await gateway.install(
                try RoutePolicyTests.table(routes: "  - route: [{destination: {host: raw-v1}}]", services: ["raw-v1": [backend.port]])
            )
            try await body(gateway, backend, group)
        } catch {
            await gateway.shutdown()
            await backend.close()
            try? await group.shutdownGracefully()
            throw error
        }
        await gateway.shutdown()
        await backend.close()
        try await group.shutdownGracefully()
    }

    static let rawUpgrade = "GET / HTTP/1.1\r\nhost: raw.example.com\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"

    @Test("a half-close passes through the tunnel: the upstream reads the end and still answers")
    func halfClose() async throws {
        try await Self.withRawUpgrades { gateway, _, group in
            let raw = try await RawConnection.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: group)
            try await raw.send(Self.rawUpgrade + "hello ")
            #expect(await raw.waitFor("\r\n\r\n"))
            #expect(raw.received.hasPrefix("HTTP/1.1 101 "))
            #expect(raw.received.lowercased().contains("upgrade: websocket"))
            try await raw.send("world")
            try await raw.finishSending()
            // The server answers the whole of what it read only after reading its end.
            #expect(await raw.waitFor("HELLO WORLD, BYE"))
            #expect(await raw.waitForClose())
            #expect(await eventually(.seconds(10)) { gateway.openConnectionCount == 0 })
        }
    }

    @Test("a bounded transfer through an upgraded tunnel arrives whole, at a rate measured against a direct connection")
    func throughput() async throws {
        try await Self.withRawUpgrades { gateway, backend, group in
            let chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
            let megabytes = 128
            func transfer(to port: Int) async throws -> Duration {
                let raw = try await RawConnection.connect(port: port, group: group)
                try await raw.send(Self.rawUpgrade)
                #expect(await raw.waitFor("\r\n\r\n"))
                let started = ContinuousClock.now
                for _ in 0..<megabytes { try await raw.send(bytes: chunk) }
                try await raw.finishSending()
                #expect(await raw.waitFor("\(megabytes << 20) BYTES, BYE", timeout: .seconds(120)))
                let took = ContinuousClock.now - started
                await raw.close()
                return took
            }
            let direct = try await transfer(to: backend.port)
            let tunnelled = try await transfer(to: try #require(gateway.boundPort(forDeclared: 80)))
            func rate(_ duration: Duration) -> Int {
                Int(Double(megabytes) / (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18))
            }
            print("\(megabytes) MB one way: direct \(direct) (\(rate(direct)) MB/s), through the gateway's tunnel \(tunnelled) (\(rate(tunnelled)) MB/s)")
        }
    }
}

/// An upstream that switches to a made-up protocol on any request: it gathers what it reads and, once the client
/// has finished sending (a half-close), answers it upper-cased with `, BYE` (or, past 1 KB, how many bytes it
/// read) and closes.
final class HalfClosingUpgradeServer: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start(group: any EventLoopGroup) async throws -> HalfClosingUpgradeServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return HalfClosingUpgradeServer(port: channel.localAddress?.port ?? 0, channel: channel)
    }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var received = ""
        private var switched = false
        /// Bytes read after the switch; past a few, only counted.
        private var count = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            if switched {
                count += bytes.readableBytes
                if received.utf8.count < 1024 { received += bytes.readString(length: bytes.readableBytes) ?? "" }
                return
            }
            received += bytes.readString(length: bytes.readableBytes) ?? ""
            guard let end = received.range(of: "\r\n\r\n") else { return }
            switched = true
            received = String(received[end.upperBound...])
            count = received.utf8.count
            let answer = "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard let event = event as? ChannelEvent, event == .inputClosed else { return }
            let text = count < 1024 ? received.uppercased() : "\(count) BYTES"
            let answer = context.channel.allocator.buffer(string: text + ", BYE")
            context.writeAndFlush(wrapOutboundOut(answer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
