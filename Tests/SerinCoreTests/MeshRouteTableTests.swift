import SerinCore
import Testing

/// The mesh's routes, as Istio's sidecars hold them: VirtualServices bound to the mesh, by host and service port.
@Suite("RouteTable in the mesh")
struct MeshRouteTableTests {
    static func service(_ name: String, port: Int, endpoint: Int) -> MeshService {
        MeshService(
            name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"),
            ports: [ServicePort(number: port, name: "http")],
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": endpoint], labels: ["version": name])]
        )
    }

    static let services = [
        service("reviews", port: 9080, endpoint: 1000), service("reviews-v1", port: 9080, endpoint: 1001),
        service("reviews-v2", port: 9080, endpoint: 1002),
    ]

    /// A Kubernetes Service `reviews` in `namespace`, its one endpoint on port `endpoint`.
    static func reviews(in namespace: String, endpoint: Int) -> MeshService {
        MeshService(
            name: ResourceName(namespace: namespace, name: "reviews"), hosts: MeshService.kubernetesHosts(name: "reviews", namespace: namespace),
            ports: [ServicePort(number: 9080, name: "http")],
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": endpoint], labels: [:])]
        )
    }

    static func reviews(gateways: [ResourceName] = [], appliesToMesh: Bool? = nil, matches: [RequestMatch] = []) -> VirtualService {
        VirtualService(
            name: ResourceName(name: "reviews"), hosts: ["reviews"], gateways: gateways, appliesToMesh: appliesToMesh,
            http: [HTTPRoute(matches: matches, destinations: [WeightedDestination(destination: Destination(host: "reviews-v2", port: 9080), weight: 100)])]
        )
    }

    static func table(_ virtualServices: [VirtualService], gateways: [Gateway] = []) -> RouteTable {
        RouteTable(compiling: MeshConfig(gateways: gateways, virtualServices: virtualServices, services: services))
    }

    static func through(_ table: RouteTable, host: String) -> String {
        switch table.resolveMesh(RequestAttributes(method: "GET", target: "/", authority: host, headers: HeaderList())) {
        case .route(let route): return route.targets.map { "\($0.destination.host) \($0.cluster.endpoints.map(\.port))" }.joined()
        case .noRoute(let reason): return "404: \(reason)"
        case .misdirected(let reason): return "421: \(reason)"
        }
    }

    @Test("a VirtualService with no gateways routes its service's host on the service's port, under every name of the service")
    func meshVirtualServiceRoutesByHostAndPort() {
        let table = Self.table([Self.reviews()])
        #expect(Self.through(table, host: "reviews:9080") == "reviews-v2 [1002]")
        #expect(Self.through(table, host: "reviews.default.svc.cluster.local:9080") == "reviews-v2 [1002]")
        #expect(Self.through(table, host: "REVIEWS:9080") == "reviews-v2 [1002]")
        // An absolute name, with the root's dot, as Istio (1.27 on) serves it too.
        #expect(Self.through(table, host: "reviews.default.svc.cluster.local.:9080") == "reviews-v2 [1002]")
        #expect(Self.through(Self.table([]), host: "reviews-v1.default.svc.cluster.local.:9080") == "reviews-v1 [1001]")
        // A Host without a port means port 80, where reviews does not listen.
        #expect(Self.through(table, host: "reviews") == "404: no service in the mesh has port 80 (host \"reviews\")")
        #expect(Self.through(table, host: "ratings:9080")
            == "404: no VirtualService bound to the mesh and no service serves host \"ratings\" on port 9080")
        #expect(table.listeners.isEmpty, "a mesh of services alone opens no gateway port")
    }

    @Test("a service no VirtualService names goes straight to its endpoints")
    func serviceWithoutVirtualServiceGoesToItsEndpoints() {
        let table = Self.table([Self.reviews()])
        #expect(Self.through(table, host: "reviews-v1:9080") == "reviews-v1 [1001]")
        #expect(Self.through(table, host: "reviews-v1.default:9080") == "reviews-v1 [1001]")
        #expect(Self.through(Self.table([]), host: "reviews:9080") == "reviews [1000]")
    }

    @Test(
        "two Services of one name in two namespaces: each one's namespaced names reach its own endpoints, whichever is declared first",
        arguments: [false, true]
    )
    func sameNameInTwoNamespaces(shopFirst: Bool) {
        let both = [Self.reviews(in: "default", endpoint: 1000), Self.reviews(in: "shop", endpoint: 2000)]
        let table = RouteTable(compiling: MeshConfig(virtualServices: [], services: shopFirst ? both.reversed() : both))
        for name in ["reviews.shop", "reviews.shop.svc", "reviews.shop.svc.cluster.local"] {
            #expect(Self.through(table, host: "\(name):9080") == "reviews.shop [2000]")
        }
        for name in ["reviews.default", "reviews.default.svc.cluster.local"] {
            #expect(Self.through(table, host: "\(name):9080") == "reviews.default [1000]")
        }
    }

    @Test("a bare Service name reaches the Service of the mesh workload's own namespace (--mesh-namespace), as Istio gives a sidecar elsewhere only NAME.NAMESPACE and longer; a bare VirtualService host names its own namespace's Service")
    func bareNamesScopedByNamespace() {
        let services = [Self.reviews(in: "default", endpoint: 1000), Self.reviews(in: "shop", endpoint: 2000)]
        func table(meshNamespace: String, _ virtualServices: [VirtualService] = []) -> RouteTable {
            var config = MeshConfig(virtualServices: virtualServices, services: services)
            config.meshWorkload = SourceWorkload(labels: [:], namespace: meshNamespace)
            return RouteTable(compiling: config)
        }
        #expect(Self.through(table(meshNamespace: "default"), host: "reviews:9080") == "reviews.default [1000]")
        #expect(Self.through(table(meshNamespace: "shop"), host: "reviews:9080") == "reviews.shop [2000]")
        #expect(Self.through(table(meshNamespace: "shop"), host: "reviews.default:9080") == "reviews.default [1000]")
        let elsewhere = table(meshNamespace: "other")
        #expect(Self.through(elsewhere, host: "reviews:9080").hasPrefix("404: "), "\(Self.through(elsewhere, host: "reviews:9080"))")
        #expect(Self.through(elsewhere, host: "reviews.shop.svc:9080") == "reviews.shop [2000]")

        // shop's VirtualService for `reviews`: its own namespace's service, under the names each workload reaches it by.
        let shopRoutes = VirtualService(
            name: ResourceName(namespace: "shop", name: "reviews"), hosts: ["reviews"], gateways: [],
            http: [HTTPRoute(destinations: [WeightedDestination(destination: Destination(host: "reviews-v2", port: 9080), weight: 100)])]
        )
        let inShop = table(meshNamespace: "shop", [shopRoutes])
        #expect(Self.through(inShop, host: "reviews:9080").hasPrefix("reviews-v2 "), "\(Self.through(inShop, host: "reviews:9080"))")
        #expect(Self.through(inShop, host: "reviews.default:9080") == "reviews.default [1000]")
        let inDefault = table(meshNamespace: "default", [shopRoutes])
        #expect(Self.through(inDefault, host: "reviews:9080") == "reviews.default [1000]")
        #expect(Self.through(inDefault, host: "reviews.shop:9080").hasPrefix("reviews-v2 "), "\(Self.through(inDefault, host: "reviews.shop:9080"))")
        #expect(RouteTable.meshHostConflicts(in: MeshConfig(virtualServices: [shopRoutes], services: services)).isEmpty)
    }

    @Test("two mesh VirtualServices of one service: the first one's routes alone apply, as Istio's sidecars keep the first (IST0109), and the conflict is reported")
    func firstMeshVirtualServiceWins() {
        let jason = VirtualService(
            name: ResourceName(name: "reviews-a"), hosts: ["reviews"], gateways: [],
            http: [HTTPRoute(
                matches: [RequestMatch(headers: ["end-user": .exact("jason")])],
                destinations: [WeightedDestination(destination: Destination(host: "reviews-v2", port: 9080), weight: 100)]
            )]
        )
        let everyone = VirtualService(
            name: ResourceName(name: "reviews-b"), hosts: ["reviews.default.svc.cluster.local"], gateways: [],
            http: [HTTPRoute(destinations: [WeightedDestination(destination: Destination(host: "reviews-v1", port: 9080), weight: 100)])]
        )
        let table = Self.table([jason, everyone])
        func through(_ user: String) -> String {
            let attributes = RequestAttributes(method: "GET", target: "/", authority: "reviews:9080", headers: HeaderList([(name: "end-user", value: user)]))
            switch table.resolveMesh(attributes) {
            case .route(let route): return route.targets.map { $0.destination.host }.joined()
            case .noRoute, .misdirected: return "404"
            }
        }
        #expect(through("jason") == "reviews-v2")
        #expect(through("bob") == "404", "reviews-b's route does not apply to a host reviews-a took")
        let conflicts = RouteTable.meshHostConflicts(in: MeshConfig(virtualServices: [jason, everyone], services: Self.services))
        #expect(conflicts.map { "\($0.later.name) after \($0.earlier.name): \($0.host):\($0.port)" } == ["reviews-b after reviews-a: reviews.default.svc.cluster.local:9080"])
    }

    @Test("the mesh takes VirtualServices listing mesh, with or without a gateway, and never one bound to a gateway only")
    func meshBindingFollowsGatewaysField() {
        let edge = ResourceName(name: "edge")
        let gateway = Gateway(name: edge, servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])
        let both = Self.table([Self.reviews(gateways: [edge], appliesToMesh: true)], gateways: [gateway])
        #expect(Self.through(both, host: "reviews:9080") == "reviews-v2 [1002]")
        let request = RequestAttributes(method: "GET", target: "/", authority: "reviews", headers: HeaderList())
        guard case .route = both.resolve(request, port: 80) else {
            Issue.record("a VirtualService bound to a gateway and the mesh is served by the gateway too")
            return
        }
        let gatewayOnly = Self.table([Self.reviews(gateways: [edge])], gateways: [gateway])
        #expect(Self.through(gatewayOnly, host: "reviews:9080") == "reviews [1000]", "the service itself, not the gateway's route")
    }

    @Test("a match naming mesh applies in the mesh; one naming a gateway does not")
    func matchGatewaysInTheMesh() {
        let forMesh = Self.table([Self.reviews(matches: [RequestMatch(gateways: [ResourceName(name: "mesh")])])])
        #expect(Self.through(forMesh, host: "reviews:9080") == "reviews-v2 [1002]")
        let forGateway = Self.table([Self.reviews(matches: [RequestMatch(gateways: [ResourceName(name: "edge")])])])
        #expect(Self.through(forGateway, host: "reviews:9080") == "404: no route of default/reviews matches GET / on host \"reviews\"")
    }

    @Test("a match's port is the service port the request names")
    func matchPortIsServicePort() {
        let table = Self.table([Self.reviews(matches: [RequestMatch(port: 9080)])])
        #expect(Self.through(table, host: "reviews:9080") == "reviews-v2 [1002]")
        let other = Self.table([Self.reviews(matches: [RequestMatch(port: 9081)])])
        #expect(Self.through(other, host: "reviews:9080").hasPrefix("404: no route of default/reviews"))
    }

    @Test("a mesh VirtualService for a host no service has routes it on port 80")
    func unknownHostOnPort80() {
        var external = Self.reviews()
        external.hosts = ["api.example.com"]
        let table = Self.table([external])
        #expect(Self.through(table, host: "api.example.com") == "reviews-v2 [1002]")
        #expect(Self.through(table, host: "api.example.com:80") == "reviews-v2 [1002]")
    }
}
