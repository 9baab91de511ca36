import Foundation
import SerinTesting
import Testing

@Suite("serin route and validate on a TCP port", .timeLimit(.minutes(2)))
struct TCPRouteCommandTests {
    @Test("explains where a connection to TCP port 31400 goes: the server, the tcp route and its match, 80/20 to tcp-echo v1 and v2")
    func explainsPort() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/tcp", "--port", "31400"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("connection: TCP to port 31400 (plain TCP: routed by port"), "\(result.stdout)")
        #expect(result.stdout.contains("server:  Gateway default/tcp-gateway TCP"), "\(result.stdout)")
        #expect(result.stdout.contains("route:   default/tcp-echo tcp[0]"))
        #expect(result.stdout.contains("match:   [0] port 31400"))
        #expect(result.stdout.contains(" 80%  tcp-echo subset v1:9000 → 127.0.0.1:9001"), "\(result.stdout)")
        #expect(result.stdout.contains(" 20%  tcp-echo subset v2:9000 → 127.0.0.1:9002"), "\(result.stdout)")
    }

    @Test("--mesh --port 9000 explains a connection to the mesh's TCP listener for the service port: its tcp route, 80/20 to tcp-echo v1 and v2")
    func explainsMeshPort() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/tcp-mesh", "--mesh", "--port", "9000"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("connection: TCP to service port 9000 through the mesh (plain TCP: routed by port"), "\(result.stdout)")
        #expect(result.stdout.contains("server:  the mesh's TCP listener for port 9000"), "\(result.stdout)")
        #expect(result.stdout.contains("route:   default/tcp-echo tcp[0]"))
        #expect(result.stdout.contains("match:   [0] port 9000"))
        #expect(result.stdout.contains(" 80%  tcp-echo subset v1:9000 → 127.0.0.1:9001"), "\(result.stdout)")
        #expect(result.stdout.contains(" 20%  tcp-echo subset v2:9000 → 127.0.0.1:9002"), "\(result.stdout)")
    }

    @Test("--mesh --host ledger --port 8443 explains a TLS connection to the mesh by its server name: the tls route, 90/10 to ledger v1 and v2")
    func explainsMeshTLSPort() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/tls-mesh", "--mesh", "--host", "ledger", "--port", "8443"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("connection: TLS to service port 8443 through the mesh, server name \"ledger\" (passed through"), "\(result.stdout)")
        #expect(result.stdout.contains("server:  the mesh's TLS listener for port 8443"), "\(result.stdout)")
        #expect(result.stdout.contains("route:   default/ledger tls[0]"), "\(result.stdout)")
        #expect(result.stdout.contains("match:   sniHosts ledger"), "\(result.stdout)")
        #expect(result.stdout.contains(" 90%  ledger subset v1:8443 → 127.0.0.1:18443"), "\(result.stdout)")
        #expect(result.stdout.contains(" 10%  ledger subset v2:8443 → 127.0.0.1:18444"), "\(result.stdout)")
    }

    @Test("in the mesh a service's other name on its tls port goes straight to it, and a name no service has is closed with why")
    func explainsMeshTLSNames() async throws {
        let direct = try await SerinProcess.run(["route", "-f", "examples/tls-mesh", "--mesh", "--host", "ledger.internal:8443"])
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.stdout.contains("(no VirtualService: straight to the service)"), "\(direct.stdout)")
        #expect(direct.stdout.contains("match:   the service's name ledger.internal (its own tls port)"), "\(direct.stdout)")
        let unknown = try await SerinProcess.run(["route", "-f", "examples/tls-mesh", "--mesh", "--host", "other:8443"])
        #expect(unknown.status == 1, "\(unknown.stderr)")
        #expect(unknown.stdout.contains("result:  connection closed (NR), no tls route on port 8443 matches server name \"other\""), "\(unknown.stdout)")
    }

    @Test("--mesh --port 5432 explains a service's own tcp port: with no VirtualService, straight to its endpoint")
    func explainsServiceTCPPort() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/tls-mesh", "--mesh", "--port", "5432"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("server:  the mesh's TCP listener for port 5432"), "\(result.stdout)")
        #expect(result.stdout.contains("route:   default/audit-db tcp[0] (no VirtualService: straight to the service)"), "\(result.stdout)")
        #expect(result.stdout.contains("audit-db:5432 → 127.0.0.1:15432"), "\(result.stdout)")
    }

    @Test(
        "--mesh --method CONNECT explains the tunnel: to a TLS port a connection routed by server name, to an HTTP port requests, to nothing a 404",
        arguments: [
            (["examples/tls-mesh", "ledger:8443"], 0, ["result:  200 Connection established: the tunnel is a connection to the mesh's TLS listener for port 8443", "route:   default/ledger tls[0]"]),
            (["examples/tls-mesh", "audit-db:5432"], 0, ["the tunnel is a connection to the mesh's TCP listener for port 5432", "audit-db:5432 → 127.0.0.1:15432"]),
            (["examples/mesh", "reviews:9080"], 0, ["result:  200 Connection established: the tunnel carries requests, each routed as the mesh routes it"]),
            (["examples/mesh", "example.org:443"], 1, ["result:  404, no service in the mesh has host \"example.org\" on port 443: no tunnel"]),
        ] as [([String], Int32, [String])]
    )
    func explainsConnect(files: [String], status: Int32, lines: [String]) async throws {
        let result = try await SerinProcess.run(["route", "-f", files[0], "--mesh", "--method", "CONNECT", "--host", files[1]])
        #expect(result.status == status, "\(result.stdout)\(result.stderr)")
        for line in lines { #expect(result.stdout.contains(line), "\(result.stdout)") }
    }

    @Test("a CONNECT to a Gateway port is explained as its 501: only the mesh listener opens tunnels")
    func explainsConnectOnGateway() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--method", "CONNECT", "--host", "localhost:80"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("501, CONNECT is not implemented on a Gateway port: only the mesh listener (--mesh) opens tunnels"), "\(result.stdout)")
    }

    @Test("a TCP port no tcp route serves says the connection is closed and exits 1")
    func noRoute() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/tcp/tcp-echo.yaml"), encoding: .utf8)
        // A second TCP server no route serves: a warning, and its connections are closed.
        let server = "    hosts: [\"*\"]\n  - port: {number: 31401, name: tcp-2, protocol: TCP}\n    hosts: [\"*\"]\n"
        try example.replacingOccurrences(of: "    hosts: [\"*\"]\n", with: server)
            .write(to: directory.appendingPathComponent("tcp.yaml"), atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["route", "-f", directory.path, "--port", "31401"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("connection: TCP to port 31401\n"), "\(result.stdout)\(result.stderr)")
        #expect(
            result.stdout.contains("result:  connection closed (NR), no tcp route of a VirtualService bound to default/tcp-gateway matches port 31401"),
            "\(result.stdout)"
        )
    }

    @Test("serin validate accepts the example and prints a tcp route's error at its line")
    func validate() async throws {
        let accepted = try await SerinProcess.run(["validate", "examples/tcp"])
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/tcp/tcp-echo.yaml"), encoding: .utf8)
        let broken = directory.appendingPathComponent("tcp.yaml")
        try example.replacingOccurrences(of: "    - port: 31400", with: "    - port: 31400\n      destinationSubnets: [10.0.0.0/8]")
            .write(to: broken, atomically: true, encoding: .utf8)
        let refused = try await SerinProcess.run(["validate", broken.path])
        #expect(refused.status != 0)
        #expect(
            (refused.stdout + refused.stderr).contains(
                "tcp.yaml:27:27: error: spec.tcp[0].match[0].destinationSubnets is not supported by the embedded gateway"
            ),
            "\(refused.stdout)\(refused.stderr)"
        )
    }
}
