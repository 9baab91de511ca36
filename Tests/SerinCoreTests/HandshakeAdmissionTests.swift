import SerinCore
import Testing

/// Which requests a TLS connection may carry on a port with several HTTPS servers: those the server its handshake chose
/// stands for, judged by how each host's own server verifies clients.
@Suite("RouteTable: requests on a terminated TLS connection")
struct HandshakeAdmissionTests {
    static func tls(_ mode: ServerTLS.Mode, certificate: String, ca: String? = nil, minimum: TLSProtocolVersion? = nil) -> ServerTLS {
        ServerTLS(mode: mode, credential: .files(certificateChain: certificate, privateKey: certificate + ".key", caCertificates: ca), minProtocolVersion: minimum)
    }

    static let simpleWeb = tls(.simple, certificate: "web.crt")
    static let mutualAPI = tls(.mutual, certificate: "api.crt", ca: "ca.crt")
    static let simpleWildcard = tls(.simple, certificate: "wild.crt")

    /// One Gateway on 443 with `servers` (hosts, TLS), every host routed to web-v1.
    static func table(_ servers: [([String], ServerTLS)]) -> RouteTable {
        let gateway = Gateway(
            name: ResourceName(name: "gw"),
            servers: servers.map { Gateway.Server(port: 443, protocol: "HTTPS", hosts: $0.0, tls: $0.1) }
        )
        let web = VirtualService(
            name: ResourceName(name: "web"), hosts: ["*"], gateways: [ResourceName(name: "gw")],
            http: [HTTPRoute(destinations: [WeightedDestination(destination: Destination(host: "web-v1", port: 80), weight: 100)])]
        )
        return RouteTable(compiling: MeshConfig(gateways: [gateway], virtualServices: [web], services: []))
    }

    /// The server a handshake naming `serverName` gets on 443.
    static func handshake(_ table: RouteTable, _ serverName: String) throws -> RouteTable.ServerBinding {
        let servers = try #require(table.listeners[443]).servers
        return servers[RouteTable.ServerBinding.handshakeServer(forName: serverName, among: servers) ?? 0]
    }

    static func status(_ table: RouteTable, host: String, over handshake: RouteTable.ServerBinding) -> Int {
        switch table.resolve(RequestAttributes(method: "GET", target: "/", authority: host, headers: HeaderList()), port: 443, handshake: handshake) {
        case .route: 200
        case .noRoute: 404
        case .misdirected: 421
        }
    }

    static let servers: [([String], ServerTLS)] = [
        (["web.example.com"], simpleWeb), (["api.example.com"], mutualAPI), (["*.example.com"], simpleWildcard),
    ]

    @Test("a SIMPLE wildcard's handshake carries hosts of SIMPLE servers but not a MUTUAL server's host, which its wildcard also admits")
    func wildcardDoesNotOpenTheMutualHost() throws {
        let table = Self.table(Self.servers)
        let wildcard = try Self.handshake(table, "foo.example.com")
        #expect(Self.status(table, host: "foo.example.com", over: wildcard) == 200)
        #expect(Self.status(table, host: "web.example.com", over: wildcard) == 200)
        #expect(Self.status(table, host: "api.example.com", over: wildcard) == 421)
        let api = try Self.handshake(table, "api.example.com")
        #expect(Self.status(table, host: "api.example.com", over: api) == 200)
        #expect(Self.status(table, host: "foo.example.com", over: api) == 421)
    }

    @Test("after an apply, a connection made under the old settings is served while its server verifies clients as before, and turned away once it asks for more", arguments: [
        (HandshakeAdmissionTests.tls(.simple, certificate: "web-2027.crt"), 200),
        (HandshakeAdmissionTests.tls(.simple, certificate: "web.crt", minimum: .tls1_3), 200),
        (HandshakeAdmissionTests.tls(.mutual, certificate: "web.crt", ca: "ca.crt"), 421),
    ])
    func openConnectionsAcrossAnApply(web: ServerTLS, expected: Int) throws {
        let before = Self.table(Self.servers)
        let connection = try Self.handshake(before, "web.example.com")
        let after = Self.table([(["web.example.com"], web), (["api.example.com"], Self.mutualAPI), (["*.example.com"], Self.simpleWildcard)])
        #expect(Self.status(after, host: "web.example.com", over: connection) == expected)
        #expect(Self.status(after, host: "api.example.com", over: connection) == 421)
    }
}
