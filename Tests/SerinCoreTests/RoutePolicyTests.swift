import Foundation
import SerinCore
import Testing

@Suite("Route policy")
struct RoutePolicyTests {
    static let gateway = ResourceName(name: "g")

    static func service(_ name: String, port: Int, version: String) -> MeshService {
        MeshService(
            name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"),
            ports: [ServicePort(number: 80, name: "http")],
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": port], labels: ["version": version])]
        )
    }

    /// The route compiled from `route`, in a mesh with services `a` (version v1) and `b` (version v2) and `rules`.
    static func compiled(_ route: HTTPRoute, rules: [DestinationRule] = []) -> RouteTable.Route {
        let config = MeshConfig(
            gateways: [Gateway(name: gateway, servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])],
            virtualServices: [VirtualService(name: ResourceName(name: "vs"), hosts: ["*"], gateways: [gateway], http: [route])],
            destinationRules: rules,
            services: [service("a", port: 1001, version: "v1"), service("b", port: 1002, version: "v2")]
        )
        return RouteTable(compiling: config).listeners[80]!.virtualHosts[0].routes[0]
    }

    static func toA(subset: String? = nil) -> [WeightedDestination] {
        [WeightedDestination(destination: Destination(host: "a", subset: subset), weight: 100)]
    }

    @Test("the compiled route carries every policy of its HTTPRoute")
    func carriesPolicy() {
        let fault = HTTPFaultInjection(delay: .init(fixedDelay: .milliseconds(200), percentage: Percent(50)))
        let headers = RouteHeaders(request: HeaderOperations(set: ["x-canary": "1"], remove: ["x-debug"]))
        let rewrite = HTTPRewrite(uri: "/v2", authority: "a.internal")
        let retries = HTTPRetry(attempts: 5, perTryTimeout: .seconds(1), retryOn: [.reset], retriableStatusCodes: [429])
        let route = Self.compiled(HTTPRoute(
            destinations: Self.toA(), timeout: .seconds(4), retries: retries, fault: fault, headers: headers, rewrite: rewrite
        ))
        #expect(route.policy == RoutePolicy(timeout: .seconds(4), retries: retries, fault: fault, headers: headers, rewrite: rewrite))
    }

    @Test("a route without retries retries as Istio does by default; attempts 0 turns retries off")
    func retryDefaults() {
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA())).policy.retries == .istioDefault)
        #expect(HTTPRetry.istioDefault == HTTPRetry(attempts: 2, retryOn: [.connectFailure, .refusedStream, .unavailable, .cancelled], retriableStatusCodes: [503]))
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA(), retries: HTTPRetry(attempts: 0))).policy.retries == nil)
    }

    @Test("a route knows the lowest status its retries could retry: every status below it is an answer that stands")
    func lowestRetriedStatus() {
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA())).lowestRetriedStatus == 503)
        let cases: [(HTTPRetry, Int)] = [
            (HTTPRetry(attempts: 1, retryOn: [.serverError], retriableStatusCodes: []), 500),
            (HTTPRetry(attempts: 1, retryOn: [.gatewayError], retriableStatusCodes: []), 502),
            (HTTPRetry(attempts: 1, retryOn: [.gatewayError], retriableStatusCodes: [409, 503]), 409),
            (HTTPRetry(attempts: 1, retryOn: [.connectFailure, .reset], retriableStatusCodes: []), .max),
        ]
        for (retries, lowest) in cases {
            let route = Self.compiled(HTTPRoute(destinations: Self.toA(), retries: retries))
            #expect(route.lowestRetriedStatus == lowest, "\(retries.retryOn) \(retries.retriableStatusCodes)")
            // The floor agrees with the policy on every status.
            for status in 100...599 where retries.retries(status: status) { #expect(status >= lowest) }
        }
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA(), retries: HTTPRetry(attempts: 0))).lowestRetriedStatus == .max)
    }

    @Test("a route that rewrites, edits or mirrors the request says so, and so does a destination that edits it")
    func changesRequest() {
        #expect(!Self.compiled(HTTPRoute(destinations: Self.toA())).changesRequest)
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA(), rewrite: HTTPRewrite(uri: "/v2"))).changesRequest)
        let edits = RouteHeaders(request: HeaderOperations(set: ["x-canary": "1"]))
        #expect(Self.compiled(HTTPRoute(destinations: Self.toA(), headers: edits)).changesRequest)
        #expect(!Self.compiled(HTTPRoute(destinations: Self.toA(), headers: RouteHeaders(response: HeaderOperations(set: ["x": "1"])))).changesRequest)
        let cluster = Self.compiled(HTTPRoute(destinations: Self.toA())).targets[0].cluster
        #expect(RouteTable.Target(destination: Destination(host: "a"), weight: 1, cluster: cluster, headers: edits).editsRequest)
        #expect(!RouteTable.Target(destination: Destination(host: "a"), weight: 1, cluster: cluster).editsRequest)
    }

    @Test("a redirect or direct response compiles to a route without targets that answers itself")
    func answers() {
        let redirect = Self.compiled(HTTPRoute(destinations: [], redirect: HTTPRedirect(authority: "new.example.com")))
        #expect(redirect.targets.isEmpty)
        #expect(redirect.totalWeight == 0)
        #expect(redirect.policy.redirect == HTTPRedirect(authority: "new.example.com"))
        let direct = Self.compiled(HTTPRoute(destinations: [], directResponse: HTTPDirectResponse(status: 503, body: .string("later"))))
        #expect(direct.policy.directResponse?.body?.contents == Array("later".utf8))
    }

    @Test("the mirror resolves to the endpoints of its destination, subset included")
    func mirrorCluster() throws {
        let rules = [DestinationRule(name: ResourceName(name: "b"), host: "b", subsets: [.init(name: "v2", labels: ["version": "v2"])])]
        let mirror = HTTPMirrorPolicy(destination: Destination(host: "b", subset: "v2"), percentage: Percent(5))
        let route = Self.compiled(HTTPRoute(destinations: Self.toA(), mirror: mirror), rules: rules)
        let compiled = try #require(route.policy.mirrors.first)
        #expect(compiled.percentage == Percent(5))
        #expect(compiled.cluster.name == "outbound|80|v2|b")
        #expect(compiled.cluster.endpoints == [Cluster.Endpoint(address: "127.0.0.1", port: 1002, labels: ["version": "v2"])])
    }

    /// A's DestinationRule: at most 10 connections with outlier detection; subset v1 allows 1 connection.
    static let ruleForA = DestinationRule(
        name: ResourceName(name: "a"), host: "a",
        subsets: [.init(name: "v1", labels: ["version": "v1"], trafficPolicy: TrafficPolicy(connectionPool: pool(1)))],
        trafficPolicy: TrafficPolicy(connectionPool: pool(10), outlierDetection: OutlierDetection())
    )

    static func pool(_ maxConnections: Int) -> ConnectionPoolSettings {
        ConnectionPoolSettings(tcp: .init(maxConnections: maxConnections))
    }

    @Test(
        "a cluster's traffic policy is its subset's merged over its DestinationRule's, found by any host of the service",
        arguments: [
            (nil, "a", TrafficPolicy(connectionPool: pool(10), outlierDetection: OutlierDetection())),
            ("v1", "a", TrafficPolicy(connectionPool: pool(1), outlierDetection: OutlierDetection())),
            ("v0", "a", TrafficPolicy(connectionPool: pool(10), outlierDetection: OutlierDetection())),
            ("v1", "a.default.svc.cluster.local", TrafficPolicy(connectionPool: pool(1), outlierDetection: OutlierDetection())),
            (nil, "b", TrafficPolicy()),
        ] as [(String?, String, TrafficPolicy)]
    )
    func clusterPolicy(subset: String?, host: String, expected: TrafficPolicy) {
        let destination = WeightedDestination(destination: Destination(host: host, subset: subset), weight: 100)
        let route = Self.compiled(HTTPRoute(destinations: [destination]), rules: [Self.ruleForA])
        #expect(route.targets[0].cluster.trafficPolicy == expected)
    }

    @Test(
        "a retry policy retries the responses its conditions and statuses name",
        arguments: [
            ([RetryCondition.serverError], [Int](), [500, 503, 599], [404, 200]),
            ([.gatewayError], [], [502, 503, 504], [500, 501, 505]),
            ([.connectFailure, .refusedStream, .reset], [], [], [500, 502, 503]),
            ([.connectFailure], [503, 429], [503, 429], [500, 502]),
        ] as [([RetryCondition], [Int], [Int], [Int])]
    )
    func retriesStatus(conditions: [RetryCondition], codes: [Int], retried: [Int], notRetried: [Int]) {
        let policy = HTTPRetry(attempts: 1, retryOn: conditions, retriableStatusCodes: codes)
        #expect(retried.allSatisfy(policy.retries(status:)))
        #expect(!notRetried.contains(where: policy.retries(status:)))
    }

    @Test("a percentage includes the draws below it")
    func percentDraws() {
        #expect(Percent(12.5).includes(draw: 12.4))
        #expect(!Percent(12.5).includes(draw: 12.5))
        #expect(Percent.all.includes(draw: 99.999))
        #expect(!Percent.none.includes(draw: 0))
    }

    @Test("policies and clusters round-trip through JSON, for /config")
    func codable() throws {
        let rules = [DestinationRule(
            name: ResourceName(name: "b"), host: "b", subsets: [],
            trafficPolicy: TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(idleTimeout: .seconds(30))))
        )]
        let route = Self.compiled(
            HTTPRoute(
                destinations: Self.toA(), timeout: .milliseconds(1500),
                fault: HTTPFaultInjection(abort: .init(httpStatus: 503, percentage: Percent(0.5))),
                headers: RouteHeaders(response: HeaderOperations(add: ["x-a": "1"])),
                directResponse: HTTPDirectResponse(status: 200, body: .bytes([0, 255])),
                mirror: HTTPMirrorPolicy(destination: Destination(host: "b"))
            ),
            rules: rules
        )
        let data = try JSONEncoder().encode(route.policy)
        #expect(try JSONDecoder().decode(RoutePolicy.self, from: data) == route.policy)
        let redirect = HTTPRedirect(scheme: .https, derivePort: .fromRequestPort)
        #expect(try JSONDecoder().decode(HTTPRedirect.self, from: JSONEncoder().encode(redirect)) == redirect)
    }
}
