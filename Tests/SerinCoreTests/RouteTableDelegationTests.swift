import SerinCore
import Testing

/// Istio's VirtualService delegation, compiled: a root route naming a `delegate` stands for the delegate's routes,
/// each merged with it (its match within the root's, what it leaves unset taken from the root), named for the
/// delegate so a Canary on it moves their weights.
@Suite("RouteTable delegation")
struct RouteTableDelegationTests {
    static let gateway = ResourceName(name: "edge")
    static let root = ResourceName(name: "bookinfo")
    static let reviews = ResourceName(name: "reviews")

    static func route(_ host: String, name: String? = nil, matches: [RequestMatch] = [], timeout: Duration? = nil) -> HTTPRoute {
        HTTPRoute(name: name, matches: matches, destinations: [WeightedDestination(destination: Destination(host: host), weight: 100)], timeout: timeout)
    }

    static func delegating(to delegate: ResourceName, name: String? = "reviews", matches: [RequestMatch], timeout: Duration? = nil) -> HTTPRoute {
        var route = HTTPRoute(name: name, matches: matches, destinations: [], timeout: timeout)
        route.delegate = delegate
        return route
    }

    static func table(root rootRoutes: [HTTPRoute], delegate: VirtualService) -> RouteTable {
        RouteTable(compiling: MeshConfig(
            gateways: [Gateway(name: gateway, servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])],
            virtualServices: [VirtualService(name: root, hosts: ["bookinfo.example.com"], gateways: [gateway], http: rootRoutes), delegate],
            services: [RouteTableTests.service("reviews-v1", port: 1001), RouteTableTests.service("reviews-v2", port: 1002)]
        ))
    }

    static func get(_ path: String, headers: [(String, String)] = []) -> RequestAttributes {
        RouteTableTests.get(path, host: "bookinfo.example.com", headers: headers)
    }

    @Test("a request under the root's prefix takes the delegate's route, merged: the root's match and timeout, both names, the delegate's destination")
    func delegatedRoute() throws {
        let table = Self.table(
            root: [Self.delegating(to: Self.reviews, matches: [RequestMatch(uri: .prefix("/reviews"))], timeout: .seconds(5))],
            delegate: VirtualService(name: Self.reviews, hosts: [], gateways: [], http: [Self.route("reviews-v1", name: "split")])
        )
        guard case .route(let route) = table.resolve(Self.get("/reviews/1"), port: 80) else {
            Issue.record("no route under /reviews")
            return
        }
        #expect(route.virtualService == Self.reviews && route.index == 0)
        #expect(route.name == "reviews-split")
        #expect(route.matches == [RequestMatch(uri: .prefix("/reviews"))])
        #expect(route.policy.timeout == .seconds(5))
        #expect(route.delegatedBy == "default/bookinfo http[0]")
        #expect(route.targets.map(\.destination.host) == ["reviews-v1"])
        guard case .noRoute = table.resolve(Self.get("/ratings"), port: 80) else {
            Issue.record("a path outside the root's match was routed")
            return
        }
    }

    @Test("a delegate's own match narrows the root's: a header joins the prefix, a longer prefix replaces it; one outside the root's is dropped")
    func matchesMerge() throws {
        let delegate = VirtualService(name: Self.reviews, hosts: [], gateways: [], http: [
            Self.route("reviews-v2", matches: [RequestMatch(headers: ["end-user": .exact("jason")])]),
            Self.route("reviews-v2", matches: [RequestMatch(uri: .prefix("/reviews/v2"))]),
            Self.route("reviews-v2", matches: [RequestMatch(uri: .prefix("/ratings"))]),
            Self.route("reviews-v1"),
        ])
        let table = Self.table(root: [Self.delegating(to: Self.reviews, matches: [RequestMatch(uri: .prefix("/reviews"))])], delegate: delegate)
        let routes = table.listeners[80]?.virtualHosts.flatMap(\.routes) ?? []
        #expect(routes.map(\.index) == [0, 1, 3], "the /ratings route is dropped")
        #expect(routes[0].matches == [RequestMatch(uri: .prefix("/reviews"), headers: ["end-user": .exact("jason")])])
        #expect(routes[1].matches == [RequestMatch(uri: .prefix("/reviews/v2"))])
        #expect(RouteTableTests.destination(table.resolve(Self.get("/reviews/1", headers: [("end-user", "jason")]), port: 80)) == "reviews-v2")
        #expect(RouteTableTests.destination(table.resolve(Self.get("/reviews/v2/x"), port: 80)) == "reviews-v2")
        #expect(RouteTableTests.destination(table.resolve(Self.get("/reviews/1"), port: 80)) == "reviews-v1")
    }

    @Test(
        "a delegate match conflicts with the root's as Istio decides: outside its prefix, another exact value, a regex beside anything, another port, gateways it lacks",
        arguments: [
            (RequestMatch(uri: .prefix("/a")), RequestMatch(uri: .prefix("/a/b")), false),
            (RequestMatch(uri: .prefix("/a/b")), RequestMatch(uri: .prefix("/a")), true),
            (RequestMatch(uri: .prefix("/a")), RequestMatch(uri: .exact("/a/x")), false),
            (RequestMatch(uri: .exact("/a")), RequestMatch(uri: .exact("/a")), false),
            (RequestMatch(uri: .exact("/a")), RequestMatch(uri: .prefix("/a")), true),
            (RequestMatch(uri: .prefix("/a")), RequestMatch(uri: .regex(try! RegexPattern("/a.*"))), true),
            (RequestMatch(headers: ["x": .exact("1")]), RequestMatch(headers: ["x": .exact("2")]), true),
            (RequestMatch(headers: ["x": .exact("1")]), RequestMatch(headers: ["y": .exact("2")]), false),
            (RequestMatch(port: 80), RequestMatch(port: 8080), true),
            (RequestMatch(gateways: [ResourceName(name: "a")]), RequestMatch(gateways: [ResourceName(name: "b")]), true),
            (RequestMatch(), RequestMatch(uri: .prefix("/anything")), false),
        ] as [(RequestMatch, RequestMatch, Bool)]
    )
    func conflicts(root: RequestMatch, leaf: RequestMatch, conflicting: Bool) {
        #expect((HTTPRoute(matches: [leaf], destinations: []).merged(into: HTTPRoute(matches: [root], destinations: [])) == nil) == conflicting)
    }

    @Test("a delegate that is missing, has hosts of its own, or delegates again routes nothing: Istio applies one level of hostless delegates")
    func unusableDelegates() {
        var nested = Self.delegating(to: ResourceName(name: "deeper"), matches: [])
        nested.delegate = ResourceName(name: "deeper")
        let cases: [VirtualService] = [
            VirtualService(name: ResourceName(name: "other"), hosts: [], gateways: [], http: [Self.route("reviews-v1")]),
            VirtualService(name: Self.reviews, hosts: ["reviews"], gateways: [], http: [Self.route("reviews-v1")]),
            VirtualService(name: Self.reviews, hosts: [], gateways: [], http: [nested]),
        ]
        for delegate in cases {
            let table = Self.table(root: [Self.delegating(to: Self.reviews, matches: [RequestMatch(uri: .prefix("/reviews"))])], delegate: delegate)
            guard case .noRoute = table.resolve(Self.get("/reviews/1"), port: 80) else {
                Issue.record("routed through \(delegate.name)")
                continue
            }
        }
    }
}
