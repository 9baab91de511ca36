import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// Plain TCP through the mesh, as a sidecar's outbound TCP listeners carry it: a VirtualService bound to the mesh alone
/// with tcp routes for the tcp-echo service's port 9000, served on the `--mesh` address with a listener for that port,
/// and raw TCP clients on 127.0.0.1.
@Suite("Mesh TCP routes", .timeLimit(.minutes(2)))
struct GatewayMeshTCPTests {
    typealias World = GatewayTCPTests.World

    static func meshManifests(_ world: World, weights: (v1: Int, v2: Int) = (100, 0)) -> ManifestSet {
        ManifestSet(sources: [SeedManifests.tcpEcho(v1Port: world.v1.port, v2Port: world.v2.port, weights: weights, mesh: true)])
    }

    /// Serves `set` with the mesh open on 127.0.0.1; `body` gets the world, the gateway and the bound port of the
    /// mesh's TCP listener for service port 9000.
    static func withMesh(
        weights: (v1: Int, v2: Int) = (100, 0), _ body: (World, GatewayServer, Int) async throws -> Void
    ) async throws {
        let world = try await World.make()
        let set = meshManifests(world, weights: weights)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await gateway.openMesh(host: "127.0.0.1", port: 0)
            try await body(world, gateway, try #require(gateway.boundMeshTCPPorts[9000]))
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
        await world.close()
    }

    @Test("a connection to the mesh's listener for service port 9000 takes the mesh-bound tcp route: greeted by v1, its bytes reach v1, counted for tcp-echo")
    func routesByServicePort() async throws {
        try await Self.withMesh { world, gateway, port in
            let (version, connection) = try await world.connect(port: port)
            #expect(version == "v1", "\(connection.received)")
            try await connection.send("ping")
            #expect(await connection.waitFor("v1 ping"), "\(connection.received)")
            await connection.close()
            #expect(await eventually(.seconds(5)) { GatewayTCPTests.tcp(gateway, service: "tcp-echo")?.connectionsClosed == 1 })
            #expect(world.v1.connections == 1 && world.v2.connections == 0)
            // The mesh's HTTP listener stays what it was: the TCP port is a listener of its own.
            #expect(gateway.meshAddress?.port != port)
        }
    }

    @Test("new weights reach new connections; without the VirtualService the service's own tcp port goes straight to its endpoints, without the service too the port closes, and a table with both opens it again")
    func followsTheTables() async throws {
        try await Self.withMesh(weights: (0, 100)) { world, gateway, port in
            #expect(try await world.connect(port: port).version == "v2")
            try await gateway.install(RouteTable(compiling: Self.meshManifests(world, weights: (100, 0)).config))
            #expect(gateway.boundMeshTCPPorts[9000] == port)
            #expect(try await world.connect(port: port).version == "v1")

            // Port 9000 is named tcp: as a sidecar's, the mesh's listener for it stays, each connection to one of both
            // endpoints (a random turn: within 20 connections both are all but certain, 1 in 2^19 not).
            var withoutRoute = Self.meshManifests(world).config
            withoutRoute.virtualServices.removeAll()
            try await gateway.install(RouteTable(compiling: withoutRoute))
            #expect(gateway.boundMeshTCPPorts[9000] == port)
            var versions = Set<String?>()
            for _ in 0..<20 where versions.count < 2 { versions.insert(try await world.connect(port: port).version) }
            #expect(versions == ["v1", "v2"])

            var withoutService = withoutRoute
            withoutService.services.removeAll()
            try await gateway.install(RouteTable(compiling: withoutService))
            #expect(gateway.boundMeshTCPPorts.isEmpty)
            await #expect(throws: (any Error).self) { try await RawConnection.connect(port: port, group: world.group) }

            try await gateway.install(RouteTable(compiling: Self.meshManifests(world).config))
            let reopened = try #require(gateway.boundMeshTCPPorts[9000])
            #expect(try await world.connect(port: reopened).version == "v1")
        }
    }

    @Test("a mesh TCP port that cannot be listened on fails openMesh with the address, the service port and why, and leaves no mesh listener open")
    func portInUseIsRefused() async throws {
        let world = try await World.make()
        // Something else already listens where service port 9000 maps to.
        let taken = try await ServerBootstrap(group: world.group).bind(host: "127.0.0.1", port: 0).get()
        let takenPort = try #require(taken.localAddress?.port)
        let gateway = GatewayServer(threads: 1, portMapping: .offset(takenPort - 9000))
        try await gateway.install(RouteTable(compiling: Self.meshManifests(world).config))
        do {
            try await gateway.openMesh(host: "127.0.0.1", port: 0)
            Issue.record("openMesh succeeded on a taken port")
        } catch let error as GatewayError {
            #expect(error == .meshTCPUnavailable(address: "127.0.0.1", port: takenPort, declared: 9000, reason: "address already in use"))
            #expect("\(error)".contains("127.0.0.1:\(takenPort) for the mesh's TCP service port 9000"), "\(error)")
        }
        #expect(gateway.meshAddress == nil && gateway.boundMeshTCPPorts.isEmpty)
        await gateway.shutdown()
        try await taken.close()
        await world.close()
    }

    @Test("a table whose new mesh TCP port cannot be listened on is refused whole: the table before stays installed")
    func installWithTakenPortChangesNothing() async throws {
        let world = try await World.make()
        let taken = try await ServerBootstrap(group: world.group).bind(host: "127.0.0.1", port: 0).get()
        let takenPort = try #require(taken.localAddress?.port)
        let gateway = GatewayServer(threads: 1, portMapping: .offset(takenPort - 9000))
        var before = Self.meshManifests(world).config
        before.virtualServices.removeAll()
        before.services.removeAll()
        try await gateway.install(RouteTable(compiling: before))
        try await gateway.openMesh(host: "127.0.0.1", port: 0)
        await #expect(throws: GatewayError.meshTCPUnavailable(address: "127.0.0.1", port: takenPort, declared: 9000, reason: "address already in use")) {
            try await gateway.install(RouteTable(compiling: Self.meshManifests(world).config))
        }
        #expect(gateway.routes.table.meshTCP.isEmpty && gateway.boundMeshTCPPorts.isEmpty)
        #expect(gateway.meshAddress != nil, "the mesh's HTTP listener stays open")
        await gateway.shutdown()
        try await taken.close()
        await world.close()
    }

    @Test("/config lists the mesh's TCP port beside its HTTP ports, with its tcp route and where it is bound")
    func configDocument() async throws {
        try await Self.withMesh { _, gateway, port in
            let mesh = try #require(GatewayAdmin.configDocument(gateway).mesh)
            let tcp = try #require(mesh.first { $0.tcp == true })
            #expect(tcp.port == 9000 && tcp.boundPort == port)
            #expect(tcp.virtualHosts.first?.routes.first?.virtualService == "default/tcp-echo")
            // Port 9000 is named tcp: the mesh does not read it as HTTP, so no HTTP route serves it.
            #expect(!mesh.contains { $0.port == 9000 && $0.tcp == nil }, "\(mesh)")
        }
    }
}
