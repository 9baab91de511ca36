import SerinCore
import Testing

/// A PASSTHROUGH port's routes by server name: exact names first, then the longest wildcard, each tls route's
/// weighted destinations resolved to clusters as http routes' are.
@Suite("RouteTable passthrough")
struct PassthroughRouteTableTests {
    static let edge = ResourceName(name: "edge")

    static func tlsRoute(_ sniHosts: [String], port: Int? = nil, to hosts: [(String, Int)]) -> TLSRoute {
        TLSRoute(
            matches: [TLSMatch(sniHosts: sniHosts, port: port)],
            destinations: hosts.map { WeightedDestination(destination: Destination(host: $0.0), weight: $0.1) }
        )
    }

    static func table(serverHosts: [String] = ["db.example.com", "*.apps.example.com", "*.example.com"], _ virtualServices: [VirtualService]) -> RouteTable {
        RouteTable(compiling: MeshConfig(
            gateways: [
                Gateway(name: edge, servers: [
                    .init(port: 443, protocol: "TLS", hosts: serverHosts, passesThrough: true),
                    .init(port: 80, protocol: "HTTP", hosts: ["*"]),
                ])
            ],
            virtualServices: virtualServices,
            services: ["a", "b", "c"].enumerated().map { RouteTableTests.service($0.element, port: 2001 + $0.offset) }
        ))
    }

    static func virtualService(_ name: String, hosts: [String], tls: [TLSRoute]) -> VirtualService {
        VirtualService(name: ResourceName(name: name), hosts: hosts, gateways: [edge], http: [], tls: tls)
    }

    static func destination(_ resolution: RouteTable.Resolution) -> String? {
        RouteTableTests.destination(resolution)
    }

    @Test("an exact server name beats a wildcard, and the longest wildcard beats a shorter one, whatever the order written")
    func exactThenLongestSuffix() {
        let table = Self.table([
            Self.virtualService("wide", hosts: ["*.example.com"], tls: [Self.tlsRoute(["*.example.com"], to: [("c", 100)])]),
            Self.virtualService("apps", hosts: ["*.apps.example.com"], tls: [Self.tlsRoute(["*.apps.example.com"], to: [("b", 100)])]),
            Self.virtualService("db", hosts: ["db.example.com"], tls: [Self.tlsRoute(["db.example.com"], to: [("a", 100)])]),
        ])
        #expect(table.passthrough[443]?.passesThrough == true && table.listeners[443] == nil)
        #expect(Self.destination(table.resolvePassthrough(serverName: "db.example.com", port: 443)) == "a")
        #expect(Self.destination(table.resolvePassthrough(serverName: "DB.Example.com", port: 443)) == "a")
        #expect(Self.destination(table.resolvePassthrough(serverName: "web.apps.example.com", port: 443)) == "b")
        #expect(Self.destination(table.resolvePassthrough(serverName: "shop.example.com", port: 443)) == "c")
    }

    @Test("a tls route's weighted destinations resolve to clusters with their endpoints, and the pick follows the weights")
    func weightedTargets() throws {
        let table = Self.table([
            Self.virtualService("db", hosts: ["db.example.com"], tls: [Self.tlsRoute(["db.example.com"], to: [("a", 90), ("b", 10)])])
        ])
        guard case .route(let route) = table.resolvePassthrough(serverName: "db.example.com", port: 443) else {
            Issue.record("no route")
            return
        }
        #expect(route.label == "default/db tls[0]")
        #expect(route.targets.map(\.weight) == [90, 10])
        #expect(route.targets.map { $0.cluster.endpoints.map(\.port) } == [[2001], [2002]])
        #expect(route.target(forRoll: 89)?.destination.host == "a")
        #expect(route.target(forRoll: 90)?.destination.host == "b")
    }

    @Test(
        "closes what it cannot route, saying why",
        arguments: [
            (nil, 443, "the ClientHello names no server (no SNI), which port 443 routes by"),
            ("other.org", 443, "no PASSTHROUGH server on port 443 accepts server name \"other.org\""),
            ("mail.example.com", 443, "no tls route on port 443 matches server name \"mail.example.com\""),
            ("db.example.com", 80, "no PASSTHROUGH server listens on port 80"),
        ] as [(String?, Int, String)]
    )
    func noRoute(serverName: String?, port: Int, reason: String) {
        let table = Self.table([
            Self.virtualService("db", hosts: ["db.example.com"], tls: [Self.tlsRoute(["db.example.com"], to: [("a", 100)])])
        ])
        guard case .noRoute(let said) = table.resolvePassthrough(serverName: serverName, port: port) else {
            Issue.record("routed \(String(describing: serverName)) on \(port)")
            return
        }
        #expect(said == reason)
    }

    @Test("a match's port narrows it: a later route takes the name on another port")
    func matchPort() {
        let table = Self.table([
            Self.virtualService(
                "db", hosts: ["db.example.com"],
                tls: [Self.tlsRoute(["db.example.com"], port: 8443, to: [("a", 100)]), Self.tlsRoute(["db.example.com"], to: [("b", 100)])]
            )
        ])
        #expect(Self.destination(table.resolvePassthrough(serverName: "db.example.com", port: 443)) == "b")
    }

    @Test("a PASSTHROUGH port serves no http routes, and its VirtualService's http routes stay on the HTTP port")
    func httpStaysOffPassthroughPort() {
        let virtualService = VirtualService(
            name: ResourceName(name: "db"), hosts: ["db.example.com"], gateways: [Self.edge],
            http: [RouteTableTests.route("c")], tls: [Self.tlsRoute(["db.example.com"], to: [("a", 100)])]
        )
        let table = Self.table([virtualService])
        #expect(table.passthrough[443]?.virtualHosts.flatMap(\.routes).map(\.section) == ["tls"])
        #expect(RouteTableTests.destination(table.resolve(RouteTableTests.get("/", host: "db.example.com"), port: 80)) == "c")
        #expect(table.listeners[80]?.passesThrough == false)
    }

    @Test("a wildcard covers every name under it, never the bare domain")
    func covers() {
        #expect(HostPattern("*.example.com").covers(HostPattern("db.example.com")))
        #expect(HostPattern("*.example.com").covers(HostPattern("*.apps.example.com")))
        #expect(!HostPattern("*.apps.example.com").covers(HostPattern("*.example.com")))
        #expect(!HostPattern("*.example.com").covers(HostPattern("example.com")))
        #expect(HostPattern("*").covers(HostPattern("*.example.com")))
        #expect(!HostPattern("db.example.com").covers(HostPattern("*.example.com")))
    }
}
