import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// TLS passed through the gateway by SNI, end to end: two TLS backends with their own certificates (openssl makes
/// them, NIOSSL serves them), curl as the client checking the BACKEND's certificate — the gateway holds none, so a
/// verified answer proves the bytes went through untouched — and raw TCP clients for half-closes and timeouts.
@Suite(
    "Gateway TLS passthrough", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"),
    .timeLimit(.minutes(3))
)
struct GatewayPassthroughTests {
    /// The backends and certificates one test runs against.
    struct World {
        let certificates: TestCertificates
        let group: MultiThreadedEventLoopGroup
        let v1: TLSBackend
        let v2: TLSBackend
        let raw: HalfCloseBackend

        static func make() async throws -> World {
            let certificates = try await TestCertificates.make()
            // The subjects differ (CN is the first host), so a client can tell which backend's certificate it saw.
            let v1Pair = try await certificates.server("db-v1", hosts: ["db.example.com", "*.apps.example.com"])
            let v2Pair = try await certificates.server("db-v2", hosts: ["*.apps.example.com", "db.example.com"])
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            return World(
                certificates: certificates, group: group,
                v1: try await TLSBackend.start(name: "v1", certificate: v1Pair.certificate, key: v1Pair.key, group: group),
                v2: try await TLSBackend.start(name: "v2", certificate: v2Pair.certificate, key: v2Pair.key, group: group),
                raw: try await HalfCloseBackend.start(group: group)
            )
        }

        /// The Gateway, the db split `v1`/`v2`, *.apps to v2, raw.example.com to the half-close backend.
        func manifests(v1 weight1: Int = 100, v2 weight2: Int = 0, adding extra: [ManifestSource] = []) -> ManifestSet {
            let hosts = ["db.example.com", "*.apps.example.com", "raw.example.com", "slow.example.com", "flood.example.com", "empty.example.com"]
            let yaml = SeedManifests.passthroughGateway(hosts: hosts) + """

                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: db}
                spec:
                  hosts: [db.example.com]
                  gateways: [edge]
                  tls:
                  - match: [{port: 443, sniHosts: [db.example.com]}]
                    route:
                    - {destination: {host: db-v1}, weight: \(weight1)}
                    - {destination: {host: db-v2}, weight: \(weight2)}
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: apps}
                spec:
                  hosts: ["*.apps.example.com", raw.example.com]
                  gateways: [edge]
                  tls:
                  - match: [{sniHosts: ["*.apps.example.com"]}]
                    route: [{destination: {host: db-v2}}]
                  - match: [{sniHosts: [raw.example.com]}]
                    route: [{destination: {host: raw}}]
                """
            return ManifestSet(sources: [
                ManifestSource(path: "passthrough.yaml", text: yaml), SeedManifests.serviceEntry("db-v1", port: v1.port, version: "v1"),
                SeedManifests.serviceEntry("db-v2", port: v2.port, version: "v2"), SeedManifests.serviceEntry("raw", port: raw.port, version: "v1"),
            ] + extra)
        }

        /// Serves the manifests on an ephemeral port; `body` gets the gateway and the bound port of 443.
        func serve(
            limits: GatewayLimits = .default, v1 weight1: Int = 100, v2 weight2: Int = 0, adding extra: [ManifestSource] = [],
            _ body: (GatewayServer, Int) async throws -> Void
        ) async throws {
            await GatewayPassthroughTests.withGateway(
                serving: manifests(v1: weight1, v2: weight2, adding: extra), port: 443, threads: 2, limits: limits, body
            )
        }

        /// curl to `https://host:port/path` on 127.0.0.1, trusting the test CA (not the gateway: it has no certificate).
        func curl(_ host: String, port: Int, path: String = "/", _ arguments: [String] = []) async throws -> Curl.Outcome {
            try await Curl.get(
                "https://\(host):\(port)\(path)", ["--cacert", certificates.ca.certificate, "--resolve", "\(host):\(port):127.0.0.1"] + arguments
            )
        }

        func close() async {
            await v1.close()
            await v2.close()
            await raw.close()
            try? await group.shutdownGracefully()
            certificates.remove()
        }
    }

    /// Makes the world, serves it (with `limits`, the db weights `v1`/`v2`), runs `body`, and tears it all down.
    static func withWorld(
        limits: GatewayLimits = .default, v1: Int = 100, v2: Int = 0, _ body: (World, GatewayServer, Int) async throws -> Void
    ) async throws {
        let world = try await World.make()
        try await world.serve(limits: limits, v1: v1, v2: v2) { gateway, port in try await body(world, gateway, port) }
        await world.close()
    }

    /// A VirtualService `name` on `edge` passing NAME.example.com through to the service `name`.
    static func virtualService(to name: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name)}
        spec:
          hosts: [\(name).example.com]
          gateways: [edge]
          tls: [{match: [{sniHosts: [\(name).example.com]}], route: [{destination: {host: \(name)}}]}]
        """
    }

    /// A gateway serving `set` (which must decode without errors), for `body` with the bound port of its declared
    /// `port` (31400: `SeedManifests.tcpEcho`'s TCP port); shut down after, whatever `body` throws.
    static func withGateway(
        serving set: ManifestSet, port: Int = 31400, threads: Int = 1, limits: GatewayLimits = .default,
        _ body: (GatewayServer, Int) async throws -> Void
    ) async {
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: threads, portMapping: .ephemeral, limits: limits)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await body(gateway, try #require(gateway.boundPort(forDeclared: port)))
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
    }

    static func tcp(_ gateway: GatewayServer, service: String, flag: ResponseFlag = .noFlag) -> TCPCounters? {
        gateway.telemetry.tcpSnapshot().first { $0.key.destinationService == service && $0.key.responseFlags == flag }?.value
    }

    @Test(
        "routes by the server name, exact or under a wildcard sniHost, to a backend whose own certificate curl verifies",
        arguments: [("db.example.com", "v1"), ("shop.apps.example.com", "v2")]
    )
    func routesByServerName(host: String, version: String) async throws {
        try await Self.withWorld { world, _, port in
            let page = try await world.curl(host, port: port)
            #expect(page.status == 200, "\(page.stderr)")
            #expect(page.body == "backend \(version)")
            let connections: [Int] = version == "v1" ? [1, 0] : [0, 1]
            #expect([world.v1.connections, world.v2.connections] == connections)
        }
    }

    @Test(
        "openssl s_client's -servername picks the backend, whose certificate it verifies",
        arguments: [("db.example.com", "CN = db.example.com"), ("x.apps.example.com", "CN = *.apps.example.com")]
    )
    func openSSLClient(serverName: String, subject: String) async throws {
        try await Self.withWorld { world, _, port in
            // stdin is empty: s_client ends right after the handshake, having printed what it verified.
            let command = "openssl s_client -brief -connect 127.0.0.1:\(port) -servername \(serverName) "
                + "-CAfile \(world.certificates.ca.certificate) -verify_return_error < /dev/null"
            let result = try await SerinProcess.run(["-c", command], program: URL(fileURLWithPath: "/bin/sh"), timeout: .seconds(30))
            let output = result.stdout + result.stderr
            #expect(output.contains("Verification: OK"), "\(output)")
            #expect(output.contains("Peer certificate: \(subject)"), "\(output)")
        }
    }

    @Test("/config shows the PASSTHROUGH port with its server names and tls routes")
    func configDocument() async throws {
        try await Self.withWorld(v1: 90, v2: 10) { _, gateway, _ in
            let listener = try #require(GatewayAdmin.configDocument(gateway).listeners.first { $0.port == 443 })
            #expect(listener.passthrough == true)
            #expect(listener.virtualHosts.map(\.host) == ["db.example.com", "raw.example.com", "*.apps.example.com"])
            let db = try #require(listener.virtualHosts.first?.routes.first)
            #expect(db.section == "tls" && db.virtualService == "default/db" && db.matches == ["port 443"])
            #expect(db.destinations.map(\.weight) == [90, 10])
        }
    }

    @Test("weights 100/0 then 0/100 after a reconfiguration, while a splice opened before it carries on")
    func reconfiguration() async throws {
        try await Self.withWorld(v1: 100, v2: 0) { world, gateway, port in
            #expect(try await world.curl("db.example.com", port: port).body == "backend v1")
            let hello = ClientHello.bytes(serverName: "raw.example.com")
            let open = try await RawConnection.connect(port: port, group: world.group)
            try await open.send(bytes: hello)
            try await open.send("before ")
            try await gateway.install(RouteTable(compiling: world.manifests(v1: 0, v2: 100).config))
            for _ in 0..<3 { #expect(try await world.curl("db.example.com", port: port).body == "backend v2") }
            try await open.send("after")
            try await open.finishSending()
            #expect(await open.waitFor("received \(hello.count + "before after".utf8.count) bytes"), "\(open.received)")
            await open.close()
        }
    }

    @Test("a server name no route takes is closed, never reaches a backend, and is counted with NR")
    func unknownServerName() async throws {
        try await Self.withWorld { world, gateway, port in
            let refused = try await world.curl("unknown.example.com", port: port)
            #expect(refused.status == 0 && refused.exitCode != 0, "\(refused.stderr)")
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "unknown", flag: .noRoute)?.connectionsClosed == 1 })
            #expect(Self.tcp(gateway, service: "unknown", flag: .noRoute)?.connectionsOpened == 1)
            #expect(world.v1.connections + world.v2.connections == 0)
            let metrics = GatewayAdmin.metricsText(gateway)
            #expect(metrics.contains("istio_tcp_connections_opened_total{"), "\(metrics)")
            let opened = metrics.split(separator: "\n").filter { $0.hasPrefix("istio_tcp_connections_opened_total{") }
            #expect(opened.count == 1 && opened[0].contains("response_flags=\"NR\"") && opened[0].hasSuffix("} 1"), "\(metrics)")
        }
    }

    @Test("a ClientHello without a server name is closed: there is nothing to route by")
    func noServerName() async throws {
        try await Self.withWorld { world, gateway, port in
            // curl sends no SNI to an IP address.
            let refused = try await Curl.get("https://127.0.0.1:\(port)/", ["--cacert", world.certificates.ca.certificate])
            #expect(refused.status == 0 && refused.exitCode != 0, "\(refused.stderr)")
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "unknown", flag: .noRoute)?.connectionsClosed == 1 })
            #expect(world.v1.connections + world.v2.connections == 0)
        }
    }

    @Test("8 MB each way through a slow reader arrive whole: each side reads only as fast as the other takes")
    func largeBodies() async throws {
        let size = 8 * 1024 * 1024
        try await Self.withWorld { world, _, port in
            let download = try await world.curl("db.example.com", port: port, path: "/bytes/\(size)", ["--limit-rate", "8M"])
            #expect(download.status == 200, "\(download.stderr)")
            #expect(download.body.utf8.count == size && download.body.utf8.allSatisfy { $0 == UInt8(ascii: "x") })
            let file = world.certificates.directory.appendingPathComponent("upload.bin")
            try Data(repeating: UInt8(ascii: "y"), count: size).write(to: file)
            let upload = try await world.curl("db.example.com", port: port, path: "/upload", ["--data-binary", "@\(file.path)"])
            #expect(upload.status == 200, "\(upload.stderr)")
            #expect(upload.body == "v1 received \(size) bytes")
        }
    }

    @Test("a client that stops reading holds the destination: the gateway reads what the socket buffers hold of a flood, not all of it")
    func slowClientHoldsDestination() async throws {
        let world = try await World.make()
        let ceiling = SocketBuffers.ceiling
        let flood = try await FloodingBackend.start(group: world.group, bodyBytes: SocketBuffers.floodBytes)
        let extra = [
            ManifestSource(path: "flood.yaml", text: Self.virtualService(to: "flood")),
            SeedManifests.serviceEntry("flood", port: flood.port, version: "v1"),
        ]
        try await world.serve(adding: extra) { _, port in
            let client = try await RawConnection.connect(port: port, group: world.group, reading: false)
            // The flood starts at the first bytes it reads: the ClientHello the gateway passes on.
            try await client.send(bytes: ClientHello.bytes(serverName: "flood.example.com"))
            #expect(await eventually(.seconds(20)) { flood.bodyBytesWritten > 0 })
            // Polled until two readings 300 ms apart agree: the destination's writes have stopped.
            var readings = [-1, flood.bodyBytesWritten]
            let deadline = ContinuousClock.now + .seconds(20)
            while readings[0] != readings[1], ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(300))
                readings = [readings[1], flood.bodyBytesWritten]
            }
            #expect(readings[0] == readings[1], "the destination is still being read")
            #expect(flood.bodyBytesWritten < ceiling, "\(flood.bodyBytesWritten) bytes were read for a client that reads nothing (buffers hold at most \(ceiling))")
            await client.close()
        }
        await flood.close()
        await world.close()
    }

    @Test("a client's half-close reaches the destination, whose answer still comes back before both close")
    func halfClose() async throws {
        try await Self.withWorld { world, gateway, port in
            let hello = ClientHello.bytes(serverName: "raw.example.com")
            let connection = try await RawConnection.connect(port: port, group: world.group)
            try await connection.send(bytes: hello)
            try await connection.send("ping")
            try await connection.finishSending()
            #expect(await connection.waitFor("received \(hello.count + 4) bytes"), "\(connection.received)")
            #expect(await connection.waitForClose())
            #expect(await eventually(.seconds(5)) { gateway.openConnectionCount == 0 })
            let counted = Self.tcp(gateway, service: "raw")
            #expect(counted?.receivedBytes == hello.count + 4)
            #expect(counted?.sentBytes == "received \(hello.count + 4) bytes".utf8.count)
        }
    }

    @Test("a splice with no bytes either way for the idle timeout is closed")
    func idleTimeout() async throws {
        try await Self.withWorld(limits: GatewayLimits(tunnelIdleTimeout: .milliseconds(300))) { world, gateway, port in
            let connection = try await RawConnection.connect(port: port, group: world.group)
            try await connection.send(bytes: ClientHello.bytes(serverName: "raw.example.com"))
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "raw")?.connectionsOpened == 1 })
            #expect(await connection.waitForClose(timeout: .seconds(5)))
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "raw")?.connectionsClosed == 1 })
        }
    }

    @Test("opened, closed and bytes both ways are counted with the destination's labels")
    func tcpMetrics() async throws {
        try await Self.withWorld { world, gateway, port in
            for _ in 0..<2 { #expect(try await world.curl("db.example.com", port: port).body == "backend v1") }
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "db-v1")?.connectionsClosed == 2 })
            let counted = try #require(Self.tcp(gateway, service: "db-v1"))
            #expect(counted.connectionsOpened == 2)
            // A TLS handshake and a request each way: more than the plain body, far less than a megabyte.
            #expect((1000..<1_000_000).contains(counted.sentBytes) && (300..<1_000_000).contains(counted.receivedBytes), "\(counted)")
            let metrics = GatewayAdmin.metricsText(gateway)
            let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("istio_tcp_connections_closed_total{") && $0.contains("db-v1") })
            #expect(line.contains("destination_service_name=\"db-v1\"") && line.contains("destination_version=\"v1\""), "\(line)")
            #expect(line.contains("request_protocol=\"tcp\"") && line.hasSuffix("} 2"), "\(line)")
            #expect(metrics.contains("istio_tcp_sent_bytes_total{") && metrics.contains("istio_tcp_received_bytes_total{"))
        }
    }

    @Test("a destination that never answers the connect is given up after its DestinationRule's connectTimeout, counted UF")
    func connectTimeout() async throws {
        let world = try await World.make()
        let silent = try SilentPort()
        let slow = Self.virtualService(to: "slow") + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: slow}
            spec:
              host: slow
              trafficPolicy: {connectionPool: {tcp: {connectTimeout: 200ms}}}
            """
        let extra = [ManifestSource(path: "slow.yaml", text: slow), SeedManifests.serviceEntry("slow", port: silent.port, version: "v1")]
        // The gateway's own connect timeout is set to 60 s: closing well before it is the DestinationRule's doing, and
        // the bound leaves room for a test task starved for seconds between its connect, send and wait (2.5 s against
        // a 3 s default did not).
        var limits = GatewayLimits.default
        limits.upstreamConnectTimeout = .seconds(60)
        try await world.serve(limits: limits, adding: extra) { gateway, port in
            let started = ContinuousClock.now
            let connection = try await RawConnection.connect(port: port, group: world.group)
            try await connection.send(bytes: ClientHello.bytes(serverName: "slow.example.com"))
            #expect(await connection.waitForClose(timeout: .seconds(30)))
            #expect(ContinuousClock.now - started < .seconds(30), "closed by the 200ms connectTimeout, not the 60 s default")
            let counted = Self.tcp(gateway, service: "slow", flag: .upstreamConnectionFailure)
            #expect(counted?.connectionsOpened == 1 && counted?.connectionsClosed == 1, "\(gateway.telemetry.tcpSnapshot())")
        }
        await world.close()
    }

    @Test("one port, two kinds of server: names a PASSTHROUGH server lists pass through, others an HTTPS server terminates")
    func passthroughBesideHTTPS() async throws {
        let world = try await World.make()
        let web = try await world.certificates.server("web", hosts: ["web.example.com"])
        let backends = TestBackends()
        let plain = try await backends.start("v1")
        let https = ManifestSource(path: "web.yaml", text: SeedManifests.httpsGateway(host: "web.example.com", certificate: web.certificate, key: web.key) + """

            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web}
            spec: {hosts: [web.example.com], gateways: [web-edge], http: [{route: [{destination: {host: web-v1-service}}]}]}
            """)
        try await world.serve(adding: [https, SeedManifests.serviceEntry("web-v1-service", port: plain.port, version: "v1")]) { _, port in
            // The plain-HTTP backend answers only through the gateway's own TLS; the TLS backend only through passthrough.
            let terminated = try await world.curl("web.example.com", port: port)
            #expect(terminated.status == 200, "\(terminated.stderr)")
            #expect(terminated.body.contains("This is v1"))
            #expect(try await world.curl("db.example.com", port: port).body == "backend v1")
        }
        await plain.close()
        await backends.shutdown()
        await world.close()
    }

    @Test("a destination with no endpoints closes the connection, counted UH with its labels")
    func noEndpoints() async throws {
        let world = try await World.make()
        let empty = ManifestSource(path: "empty.yaml", text: Self.virtualService(to: "empty") + """

            ---
            apiVersion: v1
            kind: Service
            metadata: {name: empty}
            spec: {ports: [{port: 443, name: tls}]}
            """)
        try await world.serve(adding: [empty]) { gateway, port in
            let connection = try await RawConnection.connect(port: port, group: world.group)
            try await connection.send(bytes: ClientHello.bytes(serverName: "empty.example.com"))
            #expect(await connection.waitForClose())
            #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "empty", flag: .noHealthyUpstream)?.connectionsClosed == 1 })
        }
        await world.close()
    }

    @Test("a drain lets an open splice run until its deadline, then closes it")
    func drain() async throws {
        let world = try await World.make()
        let set = world.manifests()
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: set.config))
        let port = try #require(gateway.boundPort(forDeclared: 443))
        let connection = try await RawConnection.connect(port: port, group: world.group)
        try await connection.send(bytes: ClientHello.bytes(serverName: "raw.example.com"))
        #expect(await eventually(.seconds(5)) { Self.tcp(gateway, service: "raw")?.connectionsOpened == 1 })
        let cut = await gateway.shutdown(drainTimeout: .milliseconds(200))
        #expect(cut == 1)
        #expect(await connection.waitForClose())
        await world.close()
    }
}
