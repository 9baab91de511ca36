import SerinCore
import Testing

/// Matches that name source workloads (`sourceLabels`, `sourceNamespace`), applied as Istio applies them: at the
/// proxies of the workloads they name, and left out of every other proxy's routes.
@Suite("RouteTable: sourceLabels and sourceNamespace")
struct SourceMatchRouteTableTests {
    static let productpageV2 = SourceCondition(labels: ["app": "productpage", "version": "v2"])

    /// reviews in the mesh: requests from `source` go to reviews-v2, the rest to reviews-v1.
    static func reviews(from source: SourceCondition, more: [RequestMatch] = []) -> VirtualService {
        VirtualService(
            name: ResourceName(name: "reviews"), hosts: ["reviews"], gateways: [],
            http: [
                HTTPRoute(matches: [RequestMatch(source: source)] + more, destinations: [to("reviews-v2", port: 9080)]),
                HTTPRoute(destinations: [to("reviews-v1", port: 9080)]),
            ]
        )
    }

    static func to(_ host: String, port: Int? = nil) -> WeightedDestination {
        WeightedDestination(destination: Destination(host: host, port: port), weight: 100)
    }

    /// Where the mesh listener of `workload` sends a request for reviews:9080 (path `path`): by its bare name from the
    /// default namespace, reviews's own, and as `reviews.default` from any other, as a workload there must name it.
    static func mesh(_ virtualService: VirtualService, workload: SourceWorkload, path: String = "/") -> String? {
        var config = MeshConfig(virtualServices: [virtualService], services: MeshRouteTableTests.services)
        config.meshWorkload = workload
        let table = RouteTable(compiling: config)
        let authority = workload.namespace == ResourceName.defaultNamespace ? "reviews:9080" : "reviews.default:9080"
        return RouteTableTests.destination(
            table.resolveMesh(RequestAttributes(method: "GET", target: path, authority: authority, headers: HeaderList()))
        )
    }

    @Test("a mesh route for sourceLabels serves only a mesh listener whose workload carries every one of them")
    func meshBySourceLabels() {
        let virtualService = Self.reviews(from: Self.productpageV2)
        #expect(Self.mesh(virtualService, workload: SourceWorkload()) == "reviews-v1", "no labels: the route is left out")
        #expect(Self.mesh(virtualService, workload: SourceWorkload(labels: ["app": "productpage", "version": "v2", "team": "shop"])) == "reviews-v2")
        #expect(Self.mesh(virtualService, workload: SourceWorkload(labels: ["app": "productpage", "version": "v1"])) == "reviews-v1")
        #expect(Self.mesh(virtualService, workload: SourceWorkload(labels: ["app": "productpage"])) == "reviews-v1")
    }

    @Test("sourceNamespace names the workload's namespace, alone or beside sourceLabels")
    func meshBySourceNamespace() {
        let shop = Self.reviews(from: SourceCondition(namespace: "shop"))
        #expect(Self.mesh(shop, workload: SourceWorkload()) == "reviews-v1", "the default namespace is not shop")
        #expect(Self.mesh(shop, workload: SourceWorkload(namespace: "shop")) == "reviews-v2")
        let both = Self.reviews(from: SourceCondition(labels: ["app": "productpage"], namespace: "shop"))
        #expect(Self.mesh(both, workload: SourceWorkload(labels: ["app": "productpage"])) == "reviews-v1")
        #expect(Self.mesh(both, workload: SourceWorkload(labels: ["app": "productpage"], namespace: "shop")) == "reviews-v2")
    }

    @Test("a route keeps its other matches when one names another workload; a match's other conditions still apply")
    func otherMatchesStay() {
        let virtualService = Self.reviews(from: Self.productpageV2, more: [RequestMatch(uri: .prefix("/beta"))])
        #expect(Self.mesh(virtualService, workload: SourceWorkload(), path: "/beta/x") == "reviews-v2")
        #expect(Self.mesh(virtualService, workload: SourceWorkload(), path: "/") == "reviews-v1")
        var narrowed = Self.productpageV2Match
        narrowed.uri = .prefix("/beta")
        let both = VirtualService(
            name: ResourceName(name: "reviews"), hosts: ["reviews"], gateways: [],
            http: [HTTPRoute(matches: [narrowed], destinations: [Self.to("reviews-v2", port: 9080)]), HTTPRoute(destinations: [Self.to("reviews-v1", port: 9080)])]
        )
        let productpage = SourceWorkload(labels: Self.productpageV2.labels)
        #expect(Self.mesh(both, workload: productpage, path: "/beta") == "reviews-v2")
        #expect(Self.mesh(both, workload: productpage, path: "/") == "reviews-v1")
    }

    static var productpageV2Match: RequestMatch { RequestMatch(source: productpageV2) }

    /// A Gateway whose `selector` is `istio: ingressgateway`, in namespace `edge`, and a VirtualService bound to it with
    /// `routes`; the request's destination.
    static func atGateway(_ routes: [HTTPRoute], path: String = "/") -> String? {
        let gateway = Gateway(
            name: ResourceName(namespace: "edge", name: "ingress"), selector: ["istio": "ingressgateway"],
            servers: [.init(port: 80, protocol: "HTTP", hosts: ["*/*"])]
        )
        let virtualService = VirtualService(name: ResourceName(name: "web"), hosts: ["*"], gateways: [gateway.name], http: routes)
        let table = RouteTable(compiling: MeshConfig(gateways: [gateway], virtualServices: [virtualService], services: MeshRouteTableTests.services))
        return RouteTableTests.destination(table.resolve(RouteTableTests.get(path), port: 80))
    }

    @Test("at a gateway, the workload is the Gateway's selector in its namespace: a match naming those labels applies, one naming another workload's is left out")
    func gatewayWorkload() {
        let fallback = HTTPRoute(destinations: [Self.to("reviews-v1")])
        func toV2(_ source: SourceCondition) -> HTTPRoute { HTTPRoute(matches: [RequestMatch(source: source)], destinations: [Self.to("reviews-v2")]) }
        #expect(Self.atGateway([toV2(SourceCondition(labels: ["istio": "ingressgateway"])), fallback]) == "reviews-v2")
        #expect(Self.atGateway([toV2(SourceCondition(labels: ["istio": "ingressgateway"], namespace: "edge")), fallback]) == "reviews-v2")
        #expect(Self.atGateway([toV2(SourceCondition(labels: ["istio": "ingressgateway"], namespace: "default")), fallback]) == "reviews-v1")
        #expect(Self.atGateway([toV2(Self.productpageV2), fallback]) == "reviews-v1")
        // A match naming gateways is Istio's other case: its gateways decide, its source conditions are not read.
        let named = RequestMatch(gateways: [ResourceName(namespace: "edge", name: "ingress")], source: Self.productpageV2)
        #expect(Self.atGateway([HTTPRoute(matches: [named], destinations: [Self.to("reviews-v2")]), fallback]) == "reviews-v2")
    }

    @Test("tcp and tls routes' matches name source workloads as http routes' do")
    func streams() {
        let services = [
            MeshStreamRouteTableTests.service("db", ports: [ServicePort(number: 5432, name: "tcp", opaque: .tcp)]),
            MeshStreamRouteTableTests.service("ledger", ports: [ServicePort(number: 8443, name: "tls", opaque: .tls)]),
        ]
        let virtualServices = [
            VirtualService(
                name: ResourceName(name: "db"), hosts: ["db"], gateways: [], http: [],
                tcp: [TCPRouteTableTests.tcpRoute([L4Match(source: SourceCondition(labels: ["app": "billing"]))], to: [("db-v2", 100)])]
            ),
            VirtualService(
                name: ResourceName(name: "ledger"), hosts: ["ledger"], gateways: [], http: [],
                tls: [TLSRoute(
                    matches: [TLSMatch(sniHosts: ["ledger"], source: SourceCondition(labels: ["app": "billing"]))],
                    destinations: [Self.to("ledger-v2")]
                )]
            ),
        ]
        var config = MeshConfig(virtualServices: virtualServices, services: services)
        let other = RouteTable(compiling: config)
        #expect(RouteTableTests.destination(other.resolveTCP(port: 5432, inMesh: true)) == "db", "the service's own route")
        #expect(RouteTableTests.destination(other.resolvePassthrough(serverName: "ledger", port: 8443, inMesh: true)) == "ledger")
        config.meshWorkload = SourceWorkload(labels: ["app": "billing"])
        let billing = RouteTable(compiling: config)
        #expect(RouteTableTests.destination(billing.resolveTCP(port: 5432, inMesh: true)) == "db-v2")
        #expect(RouteTableTests.destination(billing.resolvePassthrough(serverName: "ledger", port: 8443, inMesh: true)) == "ledger-v2")
    }
}
