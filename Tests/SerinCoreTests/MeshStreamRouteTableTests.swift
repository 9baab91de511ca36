import SerinCore
import Testing

/// The mesh's ports that carry bytes it does not read, as Istio's sidecars carry them: a service's own `tcp` port
/// straight to its endpoints, a `tls` port by the ClientHello's server name, and mesh-bound VirtualServices' tcp and
/// tls routes ahead of both.
@Suite("RouteTable mesh TCP and TLS ports")
struct MeshStreamRouteTableTests {
    static func service(_ name: String, ports: [ServicePort]) -> MeshService {
        MeshService(
            name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"), ports: ports,
            endpoints: [ServiceEndpoint(address: "127.0.0.1", labels: ["version": "v1"])]
        )
    }

    static func table(_ virtualServices: [VirtualService] = [], services: [MeshService]) -> RouteTable {
        RouteTable(compiling: MeshConfig(virtualServices: virtualServices, services: services))
    }

    static func destination(_ resolution: RouteTable.Resolution) -> String? {
        RouteTableTests.destination(resolution)
    }

    static func reason(_ resolution: RouteTable.Resolution) -> String? {
        guard case .noRoute(let reason) = resolution else { return nil }
        return reason
    }

    static func tlsRoute(_ sniHosts: [String], port: Int? = nil, to hosts: [(String, Int)]) -> TLSRoute {
        TLSRoute(
            matches: [TLSMatch(sniHosts: sniHosts, port: port)],
            destinations: hosts.map { WeightedDestination(destination: Destination(host: $0.0), weight: $0.1) }
        )
    }

    @Test(
        "Istio's protocol selection for ports the mesh does not read: appProtocol first, then a ServiceEntry's protocol, then the name's prefix",
        arguments: [
            (nil, nil, "tcp", ServicePort.OpaqueProtocol.tcp), (nil, nil, "tcp-db", .tcp), (nil, nil, "mongo", .tcp), (nil, nil, "redis-cache", .tcp),
            (nil, nil, "tls", .tls), (nil, nil, "https-admin", .tls), ("tcp", nil, "http", .tcp), ("https", nil, "tcp", .tls),
            (nil, "TLS", "web", .tls), (nil, "TCP", nil, .tcp), (nil, "HTTP", "tcp", nil), ("http", nil, "tcp", nil),
            (nil, nil, "http", nil), (nil, nil, "grpc-web", nil), (nil, nil, "tcpdump", nil), (nil, nil, nil, nil),
        ] as [(String?, String?, String?, ServicePort.OpaqueProtocol?)]
    )
    func selection(appProtocol: String?, protocolName: String?, name: String?, expected: ServicePort.OpaqueProtocol?) {
        #expect(ServicePort.selectsOpaque(protocol: protocolName, appProtocol: appProtocol, name: name) == expected)
    }

    @Test("a service's own tcp port with no VirtualService goes straight to its endpoints on the mesh's TCP listener; an HTTP port gets none")
    func serviceTCPPort() {
        let table = Self.table(services: [
            Self.service("db", ports: [ServicePort(number: 5432, name: "tcp-postgres", opaque: .tcp), ServicePort(number: 8080, name: "http")])
        ])
        #expect(table.meshTCP.keys.sorted() == [5432])
        #expect(table.meshTLS.isEmpty)
        guard case .route(let route) = table.resolveTCP(port: 5432, inMesh: true) else {
            Issue.record("no route for the service's own tcp port")
            return
        }
        #expect(route.name == RouteTable.directRouteName && route.section == "tcp")
        #expect(route.targets.map(\.destination) == [Destination(host: "db", port: 5432)])
        #expect(table.meshStreamPorts == [5432])
    }

    @Test("a VirtualService's tcp routes take the place of its service's own route; another service on the same port follows them")
    func virtualServiceFirst() {
        let table = Self.table(
            [VirtualService(name: ResourceName(name: "db"), hosts: ["db"], gateways: [], http: [], tcp: [TCPRouteTableTests.tcpRoute(to: [("db-v2", 100)])])],
            services: [
                Self.service("db", ports: [ServicePort(number: 5432, name: "tcp", opaque: .tcp)]),
                Self.service("cache", ports: [ServicePort(number: 5432, name: "tcp", opaque: .tcp)]),
            ]
        )
        let routes = table.meshTCP[5432]?.virtualHosts.flatMap(\.routes) ?? []
        #expect(routes.map(\.virtualService.name) == ["db", "cache"])
        #expect(routes.map(\.name) == [nil, RouteTable.directRouteName])
        #expect(Self.destination(table.resolveTCP(port: 5432, inMesh: true)) == "db-v2")
    }

    @Test("a service's own tls port routes by server name: each of its names straight to it, any other name closed with why")
    func serviceTLSPort() {
        let table = Self.table(services: [
            Self.service("ledger", ports: [ServicePort(number: 8443, name: "https", opaque: .tls)]),
            Self.service("vault", ports: [ServicePort(number: 8443, name: "tls", opaque: .tls)]),
        ])
        #expect(table.meshTLS.keys.sorted() == [8443] && table.meshTCP.isEmpty)
        #expect(table.meshTLS[8443]?.passesThrough == true)
        #expect(Self.destination(table.resolvePassthrough(serverName: "ledger", port: 8443, inMesh: true)) == "ledger")
        #expect(
            Self.destination(table.resolvePassthrough(serverName: "vault.default.svc.cluster.local", port: 8443, inMesh: true))
                == "vault"
        )
        #expect(Self.reason(table.resolvePassthrough(serverName: "other.example.com", port: 8443, inMesh: true)) == "no tls route on port 8443 matches server name \"other.example.com\"")
        #expect(Self.reason(table.resolvePassthrough(serverName: nil, port: 8443, inMesh: true)) == "the ClientHello names no server (no SNI), which port 8443 routes by")
        #expect(
            Self.reason(table.resolvePassthrough(serverName: "ledger", port: 443, inMesh: true))
                == "no tls route of a VirtualService bound to the mesh and no service's tls port serves port 443"
        )
        // The gateway's PASSTHROUGH servers are another table: the mesh's names are not theirs.
        #expect(Self.reason(table.resolvePassthrough(serverName: "ledger", port: 8443)) == "no PASSTHROUGH server listens on port 8443")
    }

    @Test("a mesh-bound VirtualService's tls routes split a server name by weight on its service's port, ahead of the service's own name")
    func virtualServiceTLSRoutes() {
        let virtualService = VirtualService(
            name: ResourceName(name: "ledger"), hosts: ["ledger"], gateways: [], http: [],
            tls: [Self.tlsRoute(["ledger"], port: 8443, to: [("ledger-v1", 0), ("ledger-v2", 100)])]
        )
        let table = Self.table([virtualService], services: [Self.service("ledger", ports: [ServicePort(number: 8443, name: "https", opaque: .tls)])])
        #expect(RouteTable.meshTLSPorts(of: virtualService, in: MeshConfig(services: [Self.service("ledger", ports: [ServicePort(number: 8443, opaque: .tls)])])) == [8443])
        guard case .route(let route) = table.resolvePassthrough(serverName: "ledger", port: 8443, inMesh: true) else {
            Issue.record("the tls route did not take its server name")
            return
        }
        #expect(route.virtualService.name == "ledger" && route.section == "tls")
        #expect((0..<10).map { route.target(forRoll: $0 * 10)?.destination.host } == Array(repeating: "ledger-v2", count: 10))
        // The service's other names, which no route lists, still reach it.
        #expect(Self.destination(table.resolvePassthrough(serverName: "ledger.default", port: 8443, inMesh: true)) == "ledger")
    }

    @Test("a tls match for a gateway only, on a VirtualService bound to the mesh too, leaves its name to the service's own route in the mesh")
    func gatewayOnlyMatch() {
        var route = Self.tlsRoute(["ledger"], port: 8443, to: [("ledger-v2", 100)])
        route.matches[0].gateways = [ResourceName(name: "edge")]
        let virtualService = VirtualService(
            name: ResourceName(name: "ledger"), hosts: ["ledger"], gateways: [ResourceName(name: "edge")], appliesToMesh: true, http: [], tls: [route]
        )
        let table = Self.table([virtualService], services: [Self.service("ledger", ports: [ServicePort(number: 8443, name: "https", opaque: .tls)])])
        #expect(Self.destination(table.resolvePassthrough(serverName: "ledger", port: 8443, inMesh: true)) == "ledger")
    }

    @Test("with no known service a mesh tls route is served on the port its match names; a gateway-bound one is not served in the mesh")
    func tlsPortsFromMatches() {
        let table = Self.table(
            [
                VirtualService(name: ResourceName(name: "db"), hosts: ["db.example.com"], gateways: [], http: [], tls: [Self.tlsRoute(["db.example.com"], port: 443, to: [("db", 100)])]),
                VirtualService(
                    name: ResourceName(name: "edge-only"), hosts: ["shop.example.com"], gateways: [ResourceName(name: "edge")], http: [],
                    tls: [Self.tlsRoute(["shop.example.com"], port: 9443, to: [("shop", 100)])]
                ),
            ],
            services: []
        )
        #expect(table.meshTLS.keys.sorted() == [443])
        #expect(Self.destination(table.resolvePassthrough(serverName: "db.example.com", port: 443, inMesh: true)) == "db")
    }

    @Test("a port with both tls and tcp routes routes by server name first, and a name none takes by its tcp routes")
    func tlsThenTCP() {
        let table = Self.table(
            [
                VirtualService(name: ResourceName(name: "db"), hosts: ["db.example.com"], gateways: [], http: [], tls: [Self.tlsRoute(["db.example.com"], port: 443, to: [("db", 100)])]),
                VirtualService(
                    name: ResourceName(name: "raw"), hosts: ["raw"], gateways: [], http: [],
                    tcp: [TCPRouteTableTests.tcpRoute([L4Match(port: 443)], to: [("raw", 100)])]
                ),
            ],
            services: []
        )
        #expect(table.meshStreamPorts == [443])
        #expect(Self.destination(table.resolvePassthrough(serverName: "db.example.com", port: 443, inMesh: true)) == "db")
        #expect(Self.destination(table.resolvePassthrough(serverName: "other.example.com", port: 443, inMesh: true)) == "raw")
        #expect(Self.destination(table.resolvePassthrough(serverName: nil, port: 443, inMesh: true)) == "raw")
    }
}
