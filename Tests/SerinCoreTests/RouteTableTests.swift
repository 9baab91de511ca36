import SerinCore
import Testing

@Suite("RouteTable")
struct RouteTableTests {
    static let gateway = ResourceName(name: "web-gateway")

    static func service(_ name: String, port: Int) -> MeshService {
        MeshService(
            name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"),
            ports: [ServicePort(number: 80, name: "http")],
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": port], labels: ["version": name])]
        )
    }

    static func route(_ host: String, weight: Int = 100, matches: [RequestMatch] = []) -> HTTPRoute {
        HTTPRoute(matches: matches, destinations: [WeightedDestination(destination: Destination(host: host), weight: weight)])
    }

    static func table(hosts: [String] = ["*"], serverHosts: [String] = ["*"], virtualServices: [VirtualService]) -> RouteTable {
        RouteTable(compiling: MeshConfig(
            gateways: [Gateway(name: gateway, servers: [.init(port: 80, protocol: "HTTP", hosts: serverHosts)])],
            virtualServices: virtualServices,
            services: [service("a", port: 1001), service("b", port: 1002), service("c", port: 1003)]
        ))
    }

    static func get(_ path: String, host: String = "example.com", headers: [(String, String)] = []) -> RequestAttributes {
        RequestAttributes(method: "GET", target: path, authority: host, headers: HeaderList(headers.map { (name: $0.0, value: $0.1) }))
    }

    static func destination(_ resolution: RouteTable.Resolution) -> String? {
        guard case .route(let route) = resolution else { return nil }
        return route.targets.first?.destination.host
    }

    @Test("first matching route wins, in the order written")
    func firstMatchWins() {
        let table = Self.table(virtualServices: [VirtualService(
            name: ResourceName(name: "vs"), hosts: ["*"], gateways: [Self.gateway],
            http: [
                Self.route("a", matches: [RequestMatch(uri: .prefix("/api"))]),
                Self.route("b", matches: [RequestMatch(uri: .prefix("/"))]),
                Self.route("c", matches: [RequestMatch(uri: .prefix("/api/v2"))]),
            ]
        )])
        #expect(Self.destination(table.resolve(Self.get("/api/v2/x"), port: 80)) == "a")
        #expect(Self.destination(table.resolve(Self.get("/home"), port: 80)) == "b")
    }

    @Test("a route's matches are ORed")
    func matchesAreOred() {
        let table = Self.table(virtualServices: [VirtualService(
            name: ResourceName(name: "vs"), hosts: ["*"], gateways: [Self.gateway],
            http: [
                Self.route("a", matches: [RequestMatch(uri: .exact("/x")), RequestMatch(headers: ["x-canary": .exact("1")])]),
                Self.route("b"),
            ]
        )])
        #expect(Self.destination(table.resolve(Self.get("/x"), port: 80)) == "a")
        #expect(Self.destination(table.resolve(Self.get("/y", headers: [("x-canary", "1")]), port: 80)) == "a")
        #expect(Self.destination(table.resolve(Self.get("/y"), port: 80)) == "b")
    }

    @Test("the most specific VirtualService host wins")
    func hostSpecificity() {
        let table = Self.table(virtualServices: [
            VirtualService(name: ResourceName(name: "any"), hosts: ["*"], gateways: [Self.gateway], http: [Self.route("a")]),
            VirtualService(name: ResourceName(name: "wild"), hosts: ["*.example.com"], gateways: [Self.gateway], http: [Self.route("b")]),
            VirtualService(name: ResourceName(name: "exact"), hosts: ["www.example.com"], gateways: [Self.gateway], http: [Self.route("c")]),
        ])
        #expect(Self.destination(table.resolve(Self.get("/", host: "www.example.com:8080"), port: 80)) == "c")
        #expect(Self.destination(table.resolve(Self.get("/", host: "api.example.com"), port: 80)) == "b")
        #expect(Self.destination(table.resolve(Self.get("/", host: "other.org"), port: 80)) == "a")
    }

    @Test(
        "among thousands of exact hosts each finds its own VirtualService, in any letter case; others fall to the wildcard",
        arguments: [5, 3_000]
    )
    func manyExactHosts(count: Int) {
        var virtualServices = (0..<count).map { index in
            VirtualService(
                name: ResourceName(name: "tenant\(index)"), hosts: ["tenant\(index).example.com"], gateways: [Self.gateway],
                http: [Self.route(["a", "b"][index % 2])])
        }
        virtualServices.append(VirtualService(
            name: ResourceName(name: "rest"), hosts: ["*.example.com"], gateways: [Self.gateway], http: [Self.route("c")]))
        let table = Self.table(virtualServices: virtualServices)
        for index in [0, 1, count - 2, count - 1] {
            let expected = ["a", "b"][index % 2]
            #expect(Self.destination(table.resolve(Self.get("/", host: "tenant\(index).example.com"), port: 80)) == expected)
            #expect(Self.destination(table.resolve(Self.get("/", host: "TENANT\(index).Example.COM"), port: 80)) == expected)
        }
        #expect(Self.destination(table.resolve(Self.get("/", host: "tenant\(count).example.com"), port: 80)) == "c")
        #expect(Self.destination(table.resolve(Self.get("/", host: "tenant0.example.com.evil"), port: 80)) == nil)
    }

    @Test(
        "among thousands of wildcard hosts a host takes the longest suffix it ends with (only if longer than it), in any letter case, then shorter ones, then the catch-all; an exact host beats them all",
        arguments: [5, 3_000]
    )
    func manyWildcardHosts(count: Int) {
        var virtualServices = (0..<count).map { index in
            VirtualService(
                name: ResourceName(name: "tenant\(index)"), hosts: ["*.t\(index).example.com"], gateways: [Self.gateway],
                http: [Self.route(["a", "b"][index % 2])])
        }
        virtualServices += [
            VirtualService(name: ResourceName(name: "rest"), hosts: ["*.example.com"], gateways: [Self.gateway], http: [Self.route("c")]),
            VirtualService(name: ResourceName(name: "any"), hosts: ["*"], gateways: [Self.gateway], http: [Self.route("a")]),
            VirtualService(name: ResourceName(name: "www"), hosts: ["www.t1.example.com"], gateways: [Self.gateway], http: [Self.route("a")]),
            // The longest suffix of x.deep.t0.example.com, but bound to another gateway: the next one serves it.
            VirtualService(
                name: ResourceName(name: "deep"), hosts: ["*.deep.t0.example.com"], gateways: [ResourceName(name: "other")],
                http: [Self.route("c")]),
        ]
        let table = Self.table(virtualServices: virtualServices)
        func resolved(_ host: String) -> String? { Self.destination(table.resolve(Self.get("/", host: host), port: 80)) }
        for index in [0, 1, count - 2, count - 1] {
            let expected = ["a", "b"][index % 2]
            #expect(resolved("x.t\(index).example.com") == expected)
            #expect(resolved("Y.Z.T\(index).Example.COM:80") == expected)
            #expect(resolved("t\(index).example.com") == "c", "a wildcard matches only hosts longer than its suffix")
        }
        #expect(resolved("x.t\(count).example.com") == "c")
        #expect(resolved("www.t1.example.com") == "a" && resolved("www2.t1.example.com") == "b")
        #expect(resolved("x.deep.t0.example.com") == "a")
        #expect(resolved("other.org") == "a" && resolved("example.com") == "a")
    }

    @Test("a host the gateway server does not admit gets no route, with the reason")
    func serverHostsAdmit() {
        let table = Self.table(serverHosts: ["*.example.com"], virtualServices: [
            VirtualService(name: ResourceName(name: "vs"), hosts: ["*"], gateways: [Self.gateway], http: [Self.route("a")]),
        ])
        #expect(Self.destination(table.resolve(Self.get("/", host: "www.example.com"), port: 80)) == "a")
        guard case .noRoute(let reason) = table.resolve(Self.get("/", host: "other.org"), port: 80) else {
            Issue.record("expected no route")
            return
        }
        #expect(reason == "no gateway server on port 80 accepts host \"other.org\"")
    }

    @Test("a VirtualService bound to no gateway (mesh only) is not served")
    func meshOnlyIsNotServed() {
        let table = Self.table(virtualServices: [
            VirtualService(name: ResourceName(name: "vs"), hosts: ["*"], gateways: [], http: [Self.route("a")]),
        ])
        guard case .noRoute(let reason) = table.resolve(Self.get("/"), port: 80) else {
            Issue.record("expected no route")
            return
        }
        #expect(reason.contains("no VirtualService bound to default/web-gateway"))
    }

    @Test("resolves subsets to the endpoints whose labels match")
    func subsets() {
        let service = MeshService(
            name: ResourceName(name: "web"), hosts: ["web"], ports: [ServicePort(number: 80, name: "http")],
            endpoints: [
                ServiceEndpoint(address: "10.0.0.1", ports: ["http": 8001], labels: ["version": "v1"]),
                ServiceEndpoint(address: "10.0.0.2", ports: ["http": 8002], labels: ["version": "v2"]),
            ]
        )
        let table = RouteTable(compiling: MeshConfig(
            gateways: [Gateway(name: Self.gateway, servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])],
            virtualServices: [VirtualService(
                name: ResourceName(name: "vs"), hosts: ["*"], gateways: [Self.gateway],
                http: [HTTPRoute(destinations: [WeightedDestination(destination: Destination(host: "web", subset: "v2"), weight: 100)])]
            )],
            destinationRules: [DestinationRule(
                name: ResourceName(name: "web"), host: "web",
                subsets: [.init(name: "v1", labels: ["version": "v1"]), .init(name: "v2", labels: ["version": "v2"])]
            )],
            services: [service]
        ))
        guard case .route(let route) = table.resolve(Self.get("/"), port: 80) else {
            Issue.record("expected a route")
            return
        }
        #expect(route.targets[0].cluster.endpoints == [Cluster.Endpoint(address: "10.0.0.2", port: 8002, labels: ["version": "v2"])])
        #expect(route.targets[0].cluster.name == "outbound|80|v2|web")
    }
}
