import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// TLS and plain TCP through the mesh with no Gateway at all, as a sidecar's outbound listeners carry them: a
/// mesh-bound VirtualService's tls routes split `db.example.com` by server name on port 443, a service's own `https`
/// port takes its name straight to its endpoint, and a service's own `tcp` port passes bytes to its endpoint. The
/// backends hold their own certificates (openssl makes them): curl verifying one proves the mesh never terminated TLS.
@Suite(
    "Mesh TLS and TCP ports", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"),
    .timeLimit(.minutes(3))
)
struct GatewayMeshTLSTests {
    typealias World = GatewayPassthroughTests.World

    static func manifests(_ world: World, v1: Int = 100, v2: Int = 0) -> ManifestSet {
        ManifestSet(sources: [
            ManifestSource(path: "mesh-tls.yaml", text: """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: db}
                spec:
                  hosts: [db.example.com]
                  tls:
                  - match: [{port: 443, sniHosts: [db.example.com]}]
                    route:
                    - {destination: {host: db-v1}, weight: \(v1)}
                    - {destination: {host: db-v2}, weight: \(v2)}
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: ledger}
                spec:
                  hosts: [ledger.apps.example.com]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 8443, name: https-ledger}]
                  endpoints: [{address: 127.0.0.1, ports: {https-ledger: \(world.v2.port)}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: raw}
                spec:
                  hosts: [raw.internal]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 7000, name: tcp, protocol: TCP}]
                  endpoints: [{address: 127.0.0.1, ports: {tcp: \(world.raw.port)}}]
                """),
            SeedManifests.serviceEntry("db-v1", port: world.v1.port, version: "v1"),
            SeedManifests.serviceEntry("db-v2", port: world.v2.port, version: "v2"),
        ])
    }

    /// Serves the mesh alone on 127.0.0.1; `body` gets the world, the gateway and the bound ports by service port.
    static func withMesh(v1: Int = 100, v2: Int = 0, _ body: (World, GatewayServer, [Int: Int]) async throws -> Void) async throws {
        let world = try await World.make()
        let set = manifests(world, v1: v1, v2: v2)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await gateway.openMesh(host: "127.0.0.1", port: 0)
            try await body(world, gateway, gateway.boundMeshTCPPorts)
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
        await world.close()
    }

    @Test("a mesh-bound tls route sends db.example.com to the weighted backend, whose own certificate curl verifies; new weights reach new connections")
    func routesByServerName() async throws {
        try await Self.withMesh { world, gateway, ports in
            let port = try #require(ports[443])
            #expect(try await world.curl("db.example.com", port: port).body == "backend v1")
            try await gateway.install(RouteTable(compiling: Self.manifests(world, v1: 0, v2: 100).config))
            #expect(gateway.boundMeshTCPPorts[443] == port)
            let page = try await world.curl("db.example.com", port: port)
            #expect(page.status == 200 && page.body == "backend v2", "\(page.stderr)")
            #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "db-v2")?.connectionsClosed == 1 })
        }
    }

    @Test("a service's own https port with no VirtualService takes its name straight to its endpoint; a name it lacks is closed, counted NR")
    func serviceTLSPort() async throws {
        try await Self.withMesh { world, gateway, ports in
            let port = try #require(ports[8443])
            let page = try await world.curl("ledger.apps.example.com", port: port)
            #expect(page.status == 200 && page.body == "backend v2", "\(page.stderr)")
            // Under the backend's wildcard certificate, but no service of port 8443 has the name.
            let refused = try await world.curl("shop.apps.example.com", port: port)
            #expect(refused.status == 0 && refused.exitCode != 0, "\(refused.stderr)")
            #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "unknown", flag: .noRoute)?.connectionsClosed == 1 })
            #expect(world.v2.connections == 1 && world.v1.connections == 0)
        }
    }

    @Test("a service's own tcp port with no VirtualService passes bytes both ways to its endpoint, half-close included")
    func serviceTCPPort() async throws {
        try await Self.withMesh { world, gateway, ports in
            let connection = try await RawConnection.connect(port: try #require(ports[7000]), group: world.group)
            try await connection.send("hello mesh")
            try await connection.finishSending()
            #expect(await connection.waitFor("received 10 bytes"), "\(connection.received)")
            await connection.close()
            #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "raw.internal")?.connectionsClosed == 1 })
        }
    }

    @Test("curl through the mesh as its proxy reaches https://db.example.com: CONNECT, then TLS routed by server name, the backend's certificate verified")
    func connectTunnelRoutesByServerName() async throws {
        try await Self.withMesh(v1: 0, v2: 100) { world, gateway, _ in
            let mesh = try #require(gateway.meshAddress?.port)
            let page = try await Curl.get("https://db.example.com:443/", ["--cacert", world.certificates.ca.certificate, "-x", "http://127.0.0.1:\(mesh)"])
            #expect(page.status == 200 && page.body == "backend v2", "\(page.stderr)")
            #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "db-v2")?.connectionsClosed == 1 })
            #expect(world.v1.connections == 0)
        }
    }

    @Test("a CONNECT to a service's tcp port carries its bytes to the port's route, those sent right behind the CONNECT first")
    func connectTunnelToTCPPort() async throws {
        try await Self.withMesh { world, gateway, _ in
            let connection = try await RawConnection.connect(port: try #require(gateway.meshAddress?.port), group: world.group)
            try await connection.send("CONNECT raw.internal:7000 HTTP/1.1\r\nhost: raw.internal:7000\r\n\r\nearly ")
            #expect(await connection.waitFor("HTTP/1.1 200 Connection established\r\n\r\n"), "\(connection.received)")
            try await connection.send("late")
            try await connection.finishSending()
            #expect(await connection.waitFor("received 10 bytes"), "\(connection.received)")
            await connection.close()
            #expect(await eventually(.seconds(5)) { GatewayPassthroughTests.tcp(gateway, service: "raw.internal")?.connectionsClosed == 1 })
        }
    }

    @Test("/config lists the mesh's TLS ports as passthrough with their server names, and the tcp port with the service's own route")
    func configDocument() async throws {
        try await Self.withMesh(v1: 90, v2: 10) { _, gateway, ports in
            let mesh = try #require(GatewayAdmin.configDocument(gateway).mesh)
            let db = try #require(mesh.first { $0.port == 443 && $0.passthrough == true })
            #expect(db.boundPort == ports[443])
            #expect(db.virtualHosts.first?.host == "db.example.com")
            #expect(db.virtualHosts.first?.routes.first?.destinations.map(\.weight) == [90, 10])
            let ledger = try #require(mesh.first { $0.port == 8443 && $0.passthrough == true })
            #expect(ledger.virtualHosts.map(\.host) == ["ledger.apps.example.com"])
            #expect(ledger.virtualHosts.first?.routes.first?.name == RouteTable.directRouteName)
            let raw = try #require(mesh.first { $0.port == 7000 && $0.tcp == true })
            #expect(raw.virtualHosts.first?.routes.first?.virtualService == "default/raw")
        }
    }
}
