import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// Plain TCP routed by port through the gateway, end to end: Istio's TCP traffic shifting with two tcp-echo backends on
/// 127.0.0.1 that greet each connection with their version, and raw TCP clients.
@Suite("Gateway TCP routes", .timeLimit(.minutes(3)))
struct GatewayTCPTests {
    /// The backends one test runs against.
    struct World {
        let group: MultiThreadedEventLoopGroup
        let v1: VersionEchoBackend
        let v2: VersionEchoBackend

        static func make() async throws -> World {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            return World(
                group: group, v1: try await VersionEchoBackend.start(version: "v1", group: group),
                v2: try await VersionEchoBackend.start(version: "v2", group: group)
            )
        }

        func manifests(weights: (v1: Int, v2: Int) = (100, 0), v1Port: Int? = nil, adding extra: [ManifestSource] = []) -> ManifestSet {
            ManifestSet(sources: [SeedManifests.tcpEcho(v1Port: v1Port ?? v1.port, v2Port: v2.port, weights: weights)] + extra)
        }

        /// The version whose greeting a new connection to `port` gets, and the connection, still open.
        func connect(port: Int) async throws -> (version: String?, connection: RawConnection) {
            let connection = try await RawConnection.connect(port: port, group: group)
            _ = await eventually(.seconds(5)) { connection.received.contains("\n") || connection.isClosed }
            return (connection.received.split(separator: "\n").first.map(String.init), connection)
        }

        func close() async {
            await v1.close()
            await v2.close()
            try? await group.shutdownGracefully()
        }
    }

    /// Serves `set` on ephemeral ports; `body` gets the world, the gateway and the bound port of 31400.
    static func withGateway(
        _ manifests: (World) -> ManifestSet = { $0.manifests() }, _ body: (World, GatewayServer, Int) async throws -> Void
    ) async throws {
        let world = try await World.make()
        let set = manifests(world)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await body(world, gateway, try #require(gateway.boundPort(forDeclared: 31400)))
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
        await world.close()
    }

    static func tcp(_ gateway: GatewayServer, service: String, flag: ResponseFlag = .noFlag) -> TCPCounters? {
        gateway.telemetry.tcpSnapshot().first { $0.key.destinationService == service && $0.key.responseFlags == flag }?.value
    }

    @Test("a connection is routed by its port as it opens: the destination speaks first, and what the client sends reaches it")
    func routesByPort() async throws {
        try await Self.withGateway { world, gateway, port in
            let (version, connection) = try await world.connect(port: port)
            #expect(version == "v1", "\(connection.received)")
            try await connection.send("ping")
            #expect(await connection.waitFor("v1 ping"), "\(connection.received)")
            await connection.close()
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "tcp-echo")?.connectionsClosed == 1 })
            let counted = try #require(Self.tcp(gateway, service: "tcp-echo"))
            #expect(counted.receivedBytes == 4 && counted.sentBytes == "v1\nv1 ping".utf8.count, "\(counted)")
            #expect(world.v1.connections == 1 && world.v2.connections == 0)
        }
    }

    /// 4.5 standard deviations: a fair split fails this about once in 150,000 runs, where three failed one in 370.
    @Test("400 connections at 80/20 put within 4.5 standard deviations of 80 on v2, each picked as it opens")
    func weightedSplit() async throws {
        try await Self.withGateway({ $0.manifests(weights: (80, 20)) }) { world, _, port in
            let n = 400
            var versions: [String: Int] = [:]
            for _ in 0..<n {
                let (version, connection) = try await world.connect(port: port)
                versions[version ?? "none", default: 0] += 1
                await connection.close()
            }
            let sigma = (Double(n) * 0.2 * 0.8).squareRoot()
            #expect(versions["none"] == nil, "\(versions)")
            #expect(abs(Double(versions["v2"] ?? 0) - Double(n) * 0.2) <= 4.5 * sigma, "\(versions)")
            #expect((versions["v1"] ?? 0) + (versions["v2"] ?? 0) == n)
        }
    }

    @Test("a connection to a TCP port no tcp route serves is closed, never reaches a backend, and is counted NR")
    func noRoute() async throws {
        let other = ManifestSource(path: "other.yaml", text: """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: other}
            spec:
              servers:
              - port: {number: 31401, name: tcp, protocol: TCP}
                hosts: ["*"]
            """)
        try await Self.withGateway({ $0.manifests(adding: [other]) }) { world, gateway, _ in
            let port = try #require(gateway.boundPort(forDeclared: 31401))
            let connection = try await RawConnection.connect(port: port, group: world.group)
            #expect(await connection.waitForClose())
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "unknown", flag: .noRoute)?.connectionsClosed == 1 })
            #expect(world.v1.connections + world.v2.connections == 0)
            let metrics = GatewayAdmin.metricsText(gateway)
            let opened = metrics.split(separator: "\n").filter { $0.hasPrefix("istio_tcp_connections_opened_total{") }
            #expect(opened.count == 1 && opened[0].contains("response_flags=\"NR\"") && opened[0].hasSuffix("} 1"), "\(metrics)")
        }
    }

    @Test("a destination that refuses the connect closes the client's connection, counted UF with its labels")
    func unreachable() async throws {
        let refusing = try RefusingPort()
        try await Self.withGateway({ $0.manifests(v1Port: refusing.port) }) { world, gateway, port in
            let connection = try await RawConnection.connect(port: port, group: world.group)
            #expect(await connection.waitForClose())
            #expect(connection.received.isEmpty)
            #expect(await eventually(.seconds(5)) {
                Self.tcp(gateway, service: "tcp-echo", flag: .upstreamConnectionFailure)?.connectionsClosed == 1
            })
        }
    }

    /// The gateway reads a plain TCP client only once its destination's connection is open: otherwise a client that
    /// talks first, kept waiting by a slow connect or the connection budget, would fill the gateway's memory.
    @Test("a client that sends before its destination's connection opens (tcp.maxConnections 1, taken) is held to what the sockets buffer, then every byte arrives")
    func holdsReadsUntilTheDestinationConnects() async throws {
        let sinkGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sink = try await HalfCloseBackend.start(group: sinkGroup)
        try await Self.withGateway({
            ManifestSet(sources: [
                SeedManifests.tcpEcho(v1Port: sink.port, v2Port: $0.v2.port, trafficPolicy: "{connectionPool: {tcp: {maxConnections: 1}}}")
            ])
        }) { _, gateway, port in
            let first = try BlockingSocketClient(port: port)
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "tcp-echo")?.connectionsOpened == 1 })
            let waiting = try BlockingSocketClient(port: port, timeout: 10)
            // 64 MiB is far past what a client's and a proxy's socket buffers hold on loopback (a few MiB here).
            let limit = 64 << 20
            let taken = try waiting.sendUntilStalled(limit: limit)
            #expect(taken < 16 << 20, "the gateway took \(taken) bytes from a client whose destination had no connection yet")
            #expect(Self.tcp(gateway, service: "tcp-echo")?.connectionsOpened == 1)

            first.finishSending()
            let firstAnswer = first.readToEnd()
            #expect(String(decoding: firstAnswer.bytes, as: UTF8.self) == "received 0 bytes" && firstAnswer.ending == .closed)
            waiting.finishSending()
            let (answer, ending) = waiting.readToEnd()
            #expect(String(decoding: answer, as: UTF8.self) == "received \(taken) bytes" && ending == .closed)
        }
        await sink.close()
        try await sinkGroup.shutdownGracefully()
    }

    @Test("a TCP route's connection takes its DestinationRule's tcp.idleTimeout in place of the gateway's, and is closed at tcp.maxConnectionDuration however busy, as Envoy's TCP proxy does")
    func tcpIdleTimeoutAndMaxDuration() async throws {
        func policy(_ tcp: String) -> (World) -> ManifestSet {
            { ManifestSet(sources: [SeedManifests.tcpEcho(v1Port: $0.v1.port, v2Port: $0.v2.port, trafficPolicy: "{connectionPool: {tcp: \(tcp)}}")]) }
        }
        /// Sends a line every 100ms for `duration`, or until the connection closes; how long it stayed open, when the
        /// last line went, and the longest silence between two lines (a loaded machine may stretch a 100ms sleep).
        func talk(
            _ connection: RawConnection, for duration: Duration
        ) async throws -> (lasted: Duration, lastSent: ContinuousClock.Instant, longestSilence: Duration) {
            let start = ContinuousClock.now
            var lastSent = start
            var longestSilence = Duration.zero
            while ContinuousClock.now - start < duration, !connection.isClosed {
                let now = ContinuousClock.now
                longestSilence = max(longestSilence, now - lastSent)
                lastSent = now
                try? await connection.send("ping\n")
                try await Task.sleep(for: .milliseconds(100))
            }
            let end = ContinuousClock.now
            return (end - start, lastSent, max(longestSilence, end - lastSent))
        }
        // The gateway's own tunnel idle timeout is an hour: a silent connection closed within seconds took the route's 800ms.
        try await Self.withGateway(policy("{idleTimeout: 800ms}")) { world, _, port in
            let (version, busy) = try await world.connect(port: port)
            #expect(version == "v1")
            let talked = try await talk(busy, for: .milliseconds(2000))
            // Traffic every 100ms keeps it open; closed early only if the test itself fell silent for the timeout.
            #expect(
                talked.lasted >= .milliseconds(2000) || talked.longestSilence >= .milliseconds(800),
                "closed after \(talked.lasted), the longest silence \(talked.longestSilence)"
            )
            #expect(await busy.waitForClose(timeout: .seconds(10)))
            // Silent from the last line on (the sleep after it already counts), closed no sooner than 800ms after.
            #expect(ContinuousClock.now - talked.lastSent >= .milliseconds(800))
        }
        try await Self.withGateway(policy("{maxConnectionDuration: 700ms}")) { world, _, port in
            let (version, busy) = try await world.connect(port: port)
            #expect(version == "v1")
            let lasted = try await talk(busy, for: .seconds(10)).lasted
            #expect(busy.isClosed && lasted >= .milliseconds(600) && lasted < .seconds(5), "\(lasted)")
        }
        // 0s: no idle timeout at all, not even the gateway's.
        let never = ManifestSet(sources: [SeedManifests.tcpEcho(v1Port: 1, v2Port: 2, trafficPolicy: "{connectionPool: {tcp: {idleTimeout: 0s}}}")])
        #expect(never.errors.isEmpty, "\(never.errors)")
    }

    @Test("new weights on a reconfiguration reach new connections, while one opened before keeps its destination")
    func reconfiguration() async throws {
        try await Self.withGateway { world, gateway, port in
            let (before, open) = try await world.connect(port: port)
            #expect(before == "v1")
            try await gateway.install(RouteTable(compiling: world.manifests(weights: (0, 100)).config))
            for _ in 0..<3 {
                let (after, connection) = try await world.connect(port: port)
                #expect(after == "v2")
                await connection.close()
            }
            try await open.send("still here")
            #expect(await open.waitFor("v1 still here"), "\(open.received)")
            #expect(!open.isClosed)
            await open.close()
        }
    }

    @Test("/config shows the TCP port with its tcp route and weights")
    func configDocument() async throws {
        try await Self.withGateway({ $0.manifests(weights: (80, 20)) }) { _, gateway, _ in
            let listener = try #require(GatewayAdmin.configDocument(gateway).listeners.first { $0.port == 31400 })
            #expect(listener.tcp == true && listener.gateways == ["default/tcp-gateway"])
            let route = try #require(listener.virtualHosts.first?.routes.first)
            #expect(route.section == "tcp" && route.virtualService == "default/tcp-echo" && route.matches == ["port 31400"])
            #expect(route.destinations.map(\.weight) == [80, 20])
        }
    }
}
