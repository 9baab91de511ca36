import SerinCore
import Testing

/// A TCP port's routes: the first tcp route, in the order the VirtualServices come, whose match admits the port and
/// gateway; and a Canary's split moving an owned tcp route's weights as it moves an http route's.
@Suite("RouteTable TCP")
struct TCPRouteTableTests {
    static let edge = ResourceName(name: "edge")
    static let other = ResourceName(name: "other")

    static func tcpRoute(_ matches: [L4Match] = [], to hosts: [(String, Int)]) -> TCPRoute {
        TCPRoute(matches: matches, destinations: hosts.map { WeightedDestination(destination: Destination(host: $0.0), weight: $0.1) })
    }

    static func table(_ virtualServices: [VirtualService]) -> RouteTable {
        RouteTable(compiling: MeshConfig(
            gateways: [
                Gateway(name: edge, servers: [
                    .init(port: 31400, protocol: "TCP", hosts: ["*"]), .init(port: 31401, protocol: "TCP", hosts: ["*"]),
                    .init(port: 80, protocol: "HTTP", hosts: ["*"]),
                ]),
                Gateway(name: other, servers: [.init(port: 31402, protocol: "TCP", hosts: ["db.example.com"])]),
            ],
            virtualServices: virtualServices,
            services: ["a", "b", "c"].enumerated().map { RouteTableTests.service($0.element, port: 2001 + $0.offset) }
        ))
    }

    static func virtualService(_ name: String, hosts: [String] = ["*"], gateways: [ResourceName] = [edge], tcp: [TCPRoute]) -> VirtualService {
        VirtualService(name: ResourceName(name: name), hosts: hosts, gateways: gateways, http: [], tcp: tcp)
    }

    static func destination(_ resolution: RouteTable.Resolution) -> String? {
        RouteTableTests.destination(resolution)
    }

    @Test("the first tcp route whose match admits the port wins, in the order the VirtualServices were given")
    func firstMatchingRoute() {
        let table = Self.table([
            Self.virtualService("by-port", tcp: [Self.tcpRoute([L4Match(port: 31401)], to: [("b", 100)])]),
            Self.virtualService("any", tcp: [Self.tcpRoute(to: [("a", 100)])]),
            Self.virtualService("late", tcp: [Self.tcpRoute([L4Match(port: 31400)], to: [("c", 100)])]),
        ])
        #expect(table.tcp[31400] != nil && table.listeners[31400] == nil && table.listeners[80] != nil)
        #expect(Self.destination(table.resolveTCP(port: 31401)) == "b")
        #expect(Self.destination(table.resolveTCP(port: 31400)) == "a", "the route with no match comes before the later one for 31400")
    }

    @Test("a VirtualService bound to the mesh serves its tcp routes on its service's port, as a sidecar's outbound TCP listener does; a gateway-bound one does not")
    func meshPorts() {
        let table = Self.table([
            Self.virtualService("in-mesh", hosts: ["a"], gateways: [], tcp: [Self.tcpRoute(to: [("b", 100)])]),
            Self.virtualService("edge-only", hosts: ["c"], tcp: [Self.tcpRoute(to: [("c", 100)])]),
        ])
        // Service a's port is 80 (its endpoint listens on 2001).
        #expect(table.meshTCP.keys.sorted() == [80])
        #expect(Self.destination(table.resolveTCP(port: 80, inMesh: true)) == "b")
        #expect(Self.destination(table.resolveTCP(port: 80)) == nil, "the Gateway's TCP ports are another table")
        guard case .noRoute(let reason) = table.resolveTCP(port: 2003, inMesh: true) else {
            Issue.record("the gateway-bound VirtualService's route served the mesh")
            return
        }
        #expect(reason == "no tcp route of a VirtualService bound to the mesh serves port 2003")
    }

    @Test("with no known service the mesh serves a tcp route on the ports its matches name; a match for a port the service lacks serves nothing")
    func meshPortsFromMatches() {
        let table = Self.table([
            Self.virtualService("external", hosts: ["db.external"], gateways: [], tcp: [Self.tcpRoute([L4Match(port: 5432)], to: [("a", 100)])]),
            Self.virtualService("narrow", hosts: ["b"], gateways: [], tcp: [Self.tcpRoute([L4Match(port: 9999)], to: [("c", 100)])]),
        ])
        #expect(table.meshTCP.keys.sorted() == [5432])
        #expect(Self.destination(table.resolveTCP(port: 5432, inMesh: true)) == "a")
    }

    @Test("a match's gateways narrow it: a route for another gateway's port is no route here")
    func matchGateways() {
        let table = Self.table([
            Self.virtualService("both", hosts: ["db.example.com"], gateways: [Self.edge, Self.other], tcp: [
                Self.tcpRoute([L4Match(gateways: [Self.other])], to: [("b", 100)]),
            ])
        ])
        #expect(Self.destination(table.resolveTCP(port: 31402)) == "b")
        guard case .noRoute(let reason) = table.resolveTCP(port: 31400) else {
            Issue.record("a route for gateway other took a connection on edge's port")
            return
        }
        #expect(reason == "no tcp route of a VirtualService bound to default/edge matches port 31400")
    }

    @Test("a VirtualService whose hosts no TCP server's hosts overlap is not bound to it, as Istio binds them")
    func hostsBind() {
        let table = Self.table([Self.virtualService("shop", hosts: ["shop.example.com"], gateways: [Self.other], tcp: [Self.tcpRoute(to: [("a", 100)])])])
        #expect(Self.destination(table.resolveTCP(port: 31402)) == nil)
        guard case .noRoute(let reason) = table.resolveTCP(port: 9) else {
            Issue.record("a route on a port with no server")
            return
        }
        #expect(reason == "no TCP server listens on port 9")
    }

    @Test("a tcp route's destinations resolve to clusters with endpoints, weighted as written")
    func weightedTargets() throws {
        let table = Self.table([Self.virtualService("split", tcp: [Self.tcpRoute(to: [("a", 80), ("b", 20)])])])
        guard case .route(let route) = table.resolveTCP(port: 31400) else {
            Issue.record("no route")
            return
        }
        #expect(route.section == "tcp" && route.label == "default/split tcp[0]")
        #expect(route.targets.map(\.weight) == [80, 20])
        #expect(route.targets.map { $0.cluster.endpoints.map(\.port) } == [[2001], [2002]])
        #expect(route.target(forRoll: 79)?.destination.host == "a" && route.target(forRoll: 80)?.destination.host == "b")
    }

    @Test("a Canary's split gives the tcp routes sending to the stable its weights, and leaves the others as written")
    func splitOwnsTCPRoutes() {
        let split = TrafficSplit(
            stable: WeightedDestination(destination: Destination(host: "a"), weight: 70),
            canary: WeightedDestination(destination: Destination(host: "b"), weight: 30)
        )
        let routes = split.routes(replacing: [
            Self.tcpRoute([L4Match(port: 31400)], to: [("a", 100)]), Self.tcpRoute([L4Match(port: 31401)], to: [("c", 100)]),
        ])
        #expect(routes[0].matches == [L4Match(port: 31400)])
        #expect(routes[0].destinations.map { "\($0.destination.host) \($0.weight)" } == ["a 70", "b 30"])
        #expect(routes[1].destinations.map { "\($0.destination.host) \($0.weight)" } == ["c 100"])
    }
}
