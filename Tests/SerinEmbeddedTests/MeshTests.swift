import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// The mesh on one machine: the `--mesh` listener in the role of a sidecar, with examples/mesh (reviews v1 and v2
/// as ServiceEntries, a VirtualService with no gateways, no Gateway at all) and real backends on 127.0.0.1.
@Suite("The mesh listener", .timeLimit(.minutes(2)))
struct MeshTests {
    /// Runs `body` with the example's mesh served on a free port; `canary` as for `SeedManifests.mesh`.
    static func withMesh(
        canary: [(of: String, with: String)]? = nil, canaryErrorRate: Double = 0, workload: SourceWorkload = SourceWorkload(),
        _ body: (_ runtime: GatewayRuntime, _ meshPort: Int, _ backends: TestBackends) async throws -> Void
    ) async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2", errorRate: canaryErrorRate)
        let decoded = SeedManifests.resources(SeedManifests.mesh(v1: v1.port, v2: v2.port, canary: canary))
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral, mesh: ("127.0.0.1", 0), meshWorkload: workload,
            adminHost: "127.0.0.1", adminPort: 0,
            controller: canary == nil ? nil : .init(statePath: state, tickInterval: .milliseconds(50), logger: .discarding)
        )
        let meshPort = try #require(runtime.gateway.meshAddress?.port)
        // Everything stops whether the body passed or threw; then its error, if any, is the test's.
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await body(runtime, meshPort, backends)) } catch { outcome = .failure(error) }
        await runtime.shutdown()
        for server in [v1, v2] { await server.close() }
        await backends.shutdown()
        try outcome.get()
    }

    static func get(_ target: String, host: String, port: Int, group: any EventLoopGroup) async throws -> SimpleHTTPClient.Response {
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
        defer { Task { await client.close() } }
        return try await client.send(.GET, target, headers: [("host", host)], timeout: .seconds(10))
    }

    @Test("a plain client reaches reviews by Host reviews:9080 through the mesh listener, with no Gateway at all")
    func plainClientByHost() async throws {
        try await Self.withMesh { runtime, port, backends in
            #expect(runtime.gateway.boundPorts.isEmpty, "no Gateway, no gateway port")
            // /config shows the mesh's routes, on the service port, bound where the mesh listens.
            let mesh = try #require(GatewayAdmin.configDocument(runtime.gateway).mesh?.first)
            #expect(mesh.port == 9080 && mesh.boundPort == port && mesh.gateways == ["mesh"])
            #expect(mesh.virtualHosts.first { $0.host == "reviews" }?.routes.first?.virtualService == "default/reviews")
            let reviews = try await Self.get("/", host: "reviews:9080", port: port, group: backends.group)
            #expect(reviews.status == 200)
            #expect(reviews.header(DemoApp.versionHeader) == "v1", "the VirtualService's route: reviews-v1")
            // As Istio's sidecar (use_remote_address false outbound), the mesh adds no x-forwarded-for: a client's own passes as sent.
            let echoed = try await Self.get("/echo", host: "reviews:9080", port: port, group: backends.group)
            #expect(echoed.status == 200 && !echoed.bodyText.contains("x-forwarded-for"), "\(echoed.bodyText)")
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
            let forwarded = try await client.send(.GET, "/echo", headers: [("host", "reviews:9080"), ("x-forwarded-for", "10.1.2.3")], timeout: .seconds(10))
            await client.close()
            #expect(forwarded.bodyText.contains("x-forwarded-for: 10.1.2.3\n"), "\(forwarded.bodyText)")
            // A service no VirtualService names is reached straight at its endpoints.
            let v2 = try await Self.get("/", host: "reviews-v2:9080", port: port, group: backends.group)
            #expect(v2.header(DemoApp.versionHeader) == "v2")
            // No port in Host means port 80, where reviews does not listen: the 404 says so.
            let portless = try await Self.get("/", host: "reviews", port: port, group: backends.group)
            #expect(portless.status == 404)
            #expect(portless.bodyText.contains("no service in the mesh has port 80"), "\(portless.bodyText)")
            // Traffic through the mesh is counted by destination like traffic through a gateway.
            #expect(await eventually(.seconds(10)) { runtime.gateway.telemetry.snapshot().totals(destinationService: "reviews-v1").requests == 3 })
        }
    }

    @Test("sourceLabels: a route for productpage v2's requests serves only a mesh listener started as productpage v2's sidecar (--mesh-labels), the rest go on to the next route, after an apply too")
    func sourceLabels() async throws {
        let text = SeedManifests.meshReviews(http: """
            - match: [{sourceLabels: {app: productpage, version: v2}}]
              route: [{destination: {host: reviews-v2}}]
            - route: [{destination: {host: reviews-v1}}]
            """)
        for (workload, expected) in [
            (SourceWorkload(labels: ["app": "productpage", "version": "v2"]), "v2"), (SourceWorkload(labels: ["app": "productpage", "version": "v1"]), "v1"),
            (SourceWorkload(), "v1"),
        ] {
            try await Self.withMesh(workload: workload) { runtime, port, backends in
                let report = await runtime.live.apply([ManifestSource(path: "/tmp/reviews-virtualservice.yaml", text: text)])
                #expect(report.applied && report.diagnostics.isEmpty, "\(report)")
                for _ in 0..<3 {
                    let answer = try await Self.get("/", host: "reviews:9080", port: port, group: backends.group)
                    #expect(answer.status == 200 && answer.header(DemoApp.versionHeader) == expected, "\(workload.labels): \(answer.status) from \(answer.header(DemoApp.versionHeader) ?? "-")")
                }
            }
        }
    }

    @Test("an apply of a VirtualService for the mesh alone, to a gateway whose mesh listener is open, is not told to open one")
    func applyToTheMesh() async throws {
        try await Self.withMesh { runtime, _, _ in
            let text = SeedManifests.meshReviews(http: "- route: [{destination: {host: reviews-v2}}]")
            let report = await runtime.live.apply([ManifestSource(path: "/tmp/reviews-virtualservice.yaml", text: text)])
            #expect(report.applied, "\(report)")
            #expect(report.results == ["virtualservice/reviews configured"], "\(report.results)")
            #expect(!report.diagnostics.contains { $0.contains("--mesh") }, "\(report.diagnostics)")
        }
    }

    @Test("curl with -x uses the mesh listener as its HTTP proxy: absolute-form targets route by their authority")
    func curlAsHTTPProxy() async throws {
        try await Self.withMesh { _, port, backends in
            let curl = URL(fileURLWithPath: "/usr/bin/curl")
            let proxied = try await SerinProcess.run(
                ["-sS", "-D", "-", "-x", "http://127.0.0.1:\(port)", "http://reviews:9080/"], program: curl, timeout: .seconds(30))
            #expect(proxied.status == 0, "\(proxied.stderr)")
            #expect(proxied.stdout.lowercased().contains("\(DemoApp.versionHeader.lowercased()): v1"), "\(proxied.stdout)")
            // HTTP_PROXY in the environment does the same for any client that honours it.
            let environment = try await SerinProcess.run(
                ["-sS", "-D", "-", "http://reviews-v2:9080/"], program: curl, environment: ["http_proxy": "http://127.0.0.1:\(port)"],
                timeout: .seconds(30))
            #expect(environment.stdout.lowercased().contains("\(DemoApp.versionHeader.lowercased()): v2"), "\(environment.stdout)")
            // The target's authority wins over a Host field that disagrees (RFC 9112 §3.2.2).
            let absolute = try await Self.get("http://reviews-v2:9080/", host: "reviews:9080", port: port, group: backends.group)
            #expect(absolute.header(DemoApp.versionHeader) == "v2")
            // An HTTP/1.0 client through the proxy may send no Host: the target names it.
            let old = try await RawConnection.connect(port: port, group: backends.group)
            try await old.send("GET http://reviews-v2:9080/ HTTP/1.0\r\n\r\n")
            #expect(await old.waitForClose(timeout: .seconds(10)))
            #expect(old.received.hasPrefix("HTTP/1.0 200") || old.received.hasPrefix("HTTP/1.1 200"), "\(old.received)")
            #expect(old.received.lowercased().contains("\(DemoApp.versionHeader.lowercased()): v2"), "\(old.received)")
        }
    }

    @Test("curl --proxytunnel opens a CONNECT to reviews:9080 through the mesh listener: the tunnel's requests route as the mesh routes them")
    func connectTunnelCarriesRequests() async throws {
        try await Self.withMesh { runtime, port, _ in
            for (host, version) in [("reviews", "v1"), ("reviews-v2", "v2")] {
                let page = try await Curl.get("http://\(host):9080/", ["--proxytunnel", "-x", "http://127.0.0.1:\(port)"])
                #expect(page.status == 200, "\(page.stderr)")
                #expect(page.headers.first?.hasPrefix("HTTP/1.1 200 Connection established") == true, "\(page.headers)")
                #expect(page.header(DemoApp.versionHeader) == version, "\(page.headers)")
            }
            // Each tunnel's request is counted once, by destination, as any request through the mesh.
            #expect(await eventually(.seconds(10)) { runtime.gateway.telemetry.snapshot().totals(destinationService: "reviews-v2").requests == 1 })
            #expect(runtime.gateway.telemetry.snapshot().totals(destinationService: "reviews-v1").requests == 1)
        }
    }

    @Test(
        "a CONNECT the mesh cannot carry is answered and closed, opening nothing: a host no service has 404, no port 400, content 400",
        arguments: [
            ("CONNECT example.org:443 HTTP/1.1\r\nhost: example.org:443\r\n\r\n", "HTTP/1.1 404", "no service in the mesh has host \"example.org\" on port 443"),
            ("CONNECT reviews HTTP/1.1\r\nhost: reviews\r\n\r\n", "HTTP/1.1 400", "CONNECT's target \"reviews\" is not a host and port"),
            ("CONNECT reviews:9080 HTTP/1.1\r\nhost: reviews:9080\r\ncontent-length: 2\r\n\r\nhi", "HTTP/1.1 400", "a CONNECT request has no content"),
        ]
    )
    func connectRefused(request: String, status: String, reason: String) async throws {
        try await Self.withMesh { _, port, backends in
            let connection = try await RawConnection.connect(port: port, group: backends.group)
            try await connection.send(request)
            #expect(await connection.waitForClose(timeout: .seconds(10)))
            #expect(connection.received.hasPrefix(status), "\(connection.received)")
            #expect(connection.received.contains(reason), "\(connection.received)")
        }
    }

    @Test("a mesh route to a service with several ports, its destination written without a port, goes to the port the request came to, as Istio's sidecar resolves it")
    func portlessDestinationTakesTheRequestPort() async throws {
        let backends = TestBackends(threads: 1)
        let web = try await backends.start("web-port")
        let admin = try await backends.start("admin-port")
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: details}
            spec:
              hosts: [details]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}, {number: 9090, name: admin, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1, ports: {http: \(web.port), admin: \(admin.port)}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: details}
            spec:
              hosts: [details]
              http:
              - route: [{destination: {host: details}}]
            """
        let set = ManifestSet(sources: [ManifestSource(path: "details.yaml", text: yaml)])
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        try await gateway.install(RouteTable(compiling: set.config))
        try await gateway.openMesh(host: "127.0.0.1", port: 0)
        let meshPort = try #require(gateway.meshAddress?.port)
        let toWeb = try await Self.get("/", host: "details:9080", port: meshPort, group: backends.group)
        #expect(toWeb.status == 200 && toWeb.header(DemoApp.versionHeader) == "web-port", "\(toWeb.status) \(toWeb.bodyText)")
        let toAdmin = try await Self.get("/", host: "details:9090", port: meshPort, group: backends.group)
        #expect(toAdmin.status == 200 && toAdmin.header(DemoApp.versionHeader) == "admin-port", "\(toAdmin.status) \(toAdmin.bodyText)")
        await gateway.shutdown()
        for server in [web, admin] { await server.close() }
        await backends.shutdown()
    }

    @Test("a mesh TCP service port that is taken says what moves it (another mesh host, --port-offset), not another --mesh port, which would not; the mesh listener's own port says --mesh")
    func meshPortAdvice() {
        let servicePort = GatewayRuntime.StartError.mesh(
            GatewayError.meshTCPUnavailable(address: "127.0.0.1", port: 9000, declared: 9000, reason: "address already in use"))
        #expect("\(servicePort)".contains("give --mesh another host (127.0.0.2:15001), or move the ports with --port-offset"), "\(servicePort)")
        #expect(!"\(servicePort)".contains("pick another with --mesh"))
        let listener = GatewayRuntime.StartError.mesh(GatewayError.meshUnavailable(address: "127.0.0.1", port: 15001, reason: "address already in use"))
        #expect("\(listener)".hasSuffix("pick another with --mesh HOST:PORT"), "\(listener)")
    }

    @Test("an HTTP/2 client (h2c with prior knowledge) reaches reviews through the mesh listener by its authority")
    func http2ClientByAuthority() async throws {
        try await Self.withMesh { _, port, _ in
            let reviews = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge", "-H", "host: reviews:9080"])
            #expect(reviews.status == 200, "\(reviews.stderr)")
            #expect(reviews.headers.first?.hasPrefix("HTTP/2 200") == true, "\(reviews.headers)")
            #expect(reviews.header(DemoApp.versionHeader) == "v1")
        }
    }

    @Test("a canary of a mesh service is promoted by the same Canary semantics: all traffic through the mesh on v2")
    func meshCanaryPromoted() async throws {
        try await Self.withMesh(canary: SeedManifests.fastMeshCanary) { runtime, port, backends in
            let controller = try #require(runtime.controller)
            let load = SteadyLoad()
            load.start(port: port, authority: "reviews:9080", rate: 300, connections: 4, group: backends.group)
            let final = try await Self.waitForFinish(controller)
            await load.stop()
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(load.failuresCausedByProxy.isEmpty, "\(load.failuresCausedByProxy.prefix(3))")
            let events = try await controller.events(of: ResourceName(name: "reviews")).map(\.message)
            #expect(events.contains { $0.contains("advance canary weight to 40%") }, "\(events)")
            #expect(await runtime.liveWeights(of: "reviews", settlingOn: ["reviews-v1": 0, "reviews-v2": 100]) == ["reviews-v1": 0, "reviews-v2": 100])
            let after = try await DemoTraffic.run(
                port: port, connections: 2, requestsPerConnection: 25, group: backends.group, headers: [("host", "reviews:9080")])
            #expect(after.counts == ["v2": 50])
        }
    }

    @Test("a failing canary of a mesh service is rolled back: its checks read the mesh's own counters")
    func meshCanaryRolledBack() async throws {
        try await Self.withMesh(canary: SeedManifests.fastMeshCanary, canaryErrorRate: 0.5) { runtime, port, backends in
            let controller = try #require(runtime.controller)
            let load = SteadyLoad()
            load.start(port: port, authority: "reviews:9080", rate: 300, connections: 4, group: backends.group)
            let final = try await Self.waitForFinish(controller)
            await load.stop()
            #expect(final.phase == .failed)
            #expect(final.canaryWeight == 0)
            let events = try await controller.events(of: ResourceName(name: "reviews")).map(\.message)
            #expect(events.contains { $0.contains("request-success-rate") }, "\(events)")
            #expect(await runtime.liveWeights(of: "reviews", settlingOn: ["reviews-v1": 100, "reviews-v2": 0]) == ["reviews-v1": 100, "reviews-v2": 0])
            let after = try await DemoTraffic.run(
                port: port, connections: 2, requestsPerConnection: 25, group: backends.group, headers: [("host", "reviews:9080")])
            #expect(after.counts == ["v1": 50])
        }
    }

    static func waitForFinish(_ controller: CanaryController, canary: String = "reviews") async throws -> CanaryStatus {
        let name = ResourceName(name: canary)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let status = await controller.status(of: name), status.phase == .succeeded || status.phase == .failed { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the rollout did not finish; last status: \(String(describing: await controller.status(of: name)))")
        throw CancellationError()
    }
}
