import SerinCore
import SerinManifests
import Testing

@Suite("Route policies compiled from manifests")
struct RoutePolicyCompilationTests {
    /// Fixture.world, a DestinationRule for web-v1-service with a subset that overrides part of its policy,
    /// and a VirtualService with a policed route, a redirect and a plain route.
    static let yaml = Fixture.world + """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: web-v1}
        spec:
          host: web-v1-service
          trafficPolicy:
            connectionPool: {tcp: {maxConnections: 50}}
            outlierDetection: {consecutive5xxErrors: 3}
          subsets:
          - name: v1
            labels: {version: v1}
            trafficPolicy:
              connectionPool: {http: {http1MaxPendingRequests: 5}}
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: ["*"]
          gateways: [web-gateway]
          http:
          - match:
            - uri: {prefix: /api}
            route:
            - destination: {host: web-v1-service, subset: v1}
            timeout: 3s
            retries: {attempts: 4, retryOn: 5xx}
            headers:
              response:
                set: {x-served-by: serin}
            mirror: {host: web-v2-service}
            mirrorPercentage: {value: 10}
          - match:
            - uri: {prefix: /old}
            redirect: {uri: /new, redirectCode: 302}
          - route:
            - destination: {host: web-v1-service}

        """

    private static func resolve(_ path: String, in table: RouteTable) -> RouteTable.Route? {
        let request = RequestAttributes(method: "GET", target: path, authority: "localhost", headers: HeaderList())
        guard case .route(let route) = table.resolve(request, port: 80) else { return nil }
        return route
    }

    @Test("the compiled route carries its policy, the mirror resolved to the endpoints it reaches")
    func routePolicy() throws {
        let set = Fixture.set(Self.yaml)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        let table = RouteTable(compiling: set.config)
        let api = try #require(Self.resolve("/api/orders", in: table))
        #expect(api.policy.timeout == .seconds(3))
        #expect(api.policy.retries == HTTPRetry(attempts: 4, retryOn: [.serverError], retriableStatusCodes: []))
        #expect(api.policy.headers == RouteHeaders(response: HeaderOperations(set: ["x-served-by": "serin"])))
        let mirror = try #require(api.policy.mirrors.first)
        #expect(mirror.destination == Destination(host: "web-v2-service"))
        #expect(mirror.percentage == Percent(10))
        #expect(mirror.cluster.name == "outbound|80||web-v2-service")
        #expect(mirror.cluster.endpoints.map(\.port) == [18082])

        let old = try #require(Self.resolve("/old/page", in: table))
        #expect(old.targets.isEmpty)
        #expect(old.policy.redirect == HTTPRedirect(uri: "/new", redirectCode: 302))

        // A route that sets no retries gets Istio's default policy.
        let plain = try #require(Self.resolve("/", in: table))
        #expect(plain.policy == RoutePolicy(retries: .istioDefault))
    }

    @Test("a subset's traffic policy overrides its DestinationRule's section by section in the compiled cluster")
    func clusterPolicy() throws {
        let table = RouteTable(compiling: Fixture.set(Self.yaml).config)
        let api = try #require(Self.resolve("/api", in: table))
        #expect(api.targets.first?.cluster.trafficPolicy == TrafficPolicy(
            connectionPool: ConnectionPoolSettings(http: .init(http1MaxPendingRequests: 5)),
            outlierDetection: OutlierDetection(consecutive5xxErrors: 3)
        ))
        let plain = try #require(Self.resolve("/", in: table))
        #expect(plain.targets.first?.cluster.trafficPolicy == TrafficPolicy(
            connectionPool: ConnectionPoolSettings(tcp: .init(maxConnections: 50)),
            outlierDetection: OutlierDetection(consecutive5xxErrors: 3)
        ))
        // web-v2-service has no DestinationRule.
        #expect(api.policy.mirrors.first?.cluster.trafficPolicy == TrafficPolicy())
    }

    @Test(
        "portLevelSettings replaces the rule's whole policy for its port, as Istio's MergeSubsetTrafficPolicy: a subset's sections go over the port's policy, a subset's own port entry replaces it; the retry budget is the subset's, else the rule's unless the rule has an entry for the port",
        arguments: [
            // (subset, port, maxConnections, loadBalancer, consecutive5xxErrors, retryBudget.percent)
            (nil, 80, 7, LoadBalancerSettings.Simple.random, nil, 30),
            (nil, 9080, nil, nil, 2, nil),
            ("v1", 9080, nil, nil, 2, nil),
            ("v2", 80, 7, .roundRobin, nil, 50),
            ("v2", 9080, nil, .roundRobin, 2, 50),
            ("v3", 80, 7, .random, nil, 30),
            ("v3", 9080, 3, nil, nil, nil),
            ("v4", 80, nil, .leastRequest, nil, 30),
        ] as [(String?, Int, Int?, LoadBalancerSettings.Simple?, Int?, Double?)]
    )
    func portLevelPolicy(
        subset: String?, port: Int, maxConnections: Int?, balancer: LoadBalancerSettings.Simple?, errors: Int?, budget: Double?
    ) throws {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge}
            spec:
              servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: api}
            spec:
              hosts: ["*"]
              gateways: [edge]
              http:
              - route: [{destination: {host: api\(subset.map { ", subset: \($0)" } ?? ""), port: {number: \(port)}}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api}
            spec:
              hosts: [api]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}, {number: 9080, name: http-alt, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1, labels: {version: v1}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: api}
            spec:
              host: api
              trafficPolicy:
                connectionPool: {tcp: {maxConnections: 7}}
                loadBalancer: {simple: RANDOM}
                retryBudget: {percent: 30}
                portLevelSettings:
                - port: {number: 9080}
                  outlierDetection: {consecutive5xxErrors: 2}
              subsets:
              - {name: v1, labels: {version: v1}}
              - name: v2
                labels: {version: v1}
                trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, retryBudget: {percent: 50}}
              - name: v3
                labels: {version: v1}
                trafficPolicy:
                  portLevelSettings:
                  - port: {number: 9080}
                    connectionPool: {tcp: {maxConnections: 3}}
              - name: v4
                labels: {version: v1}
                trafficPolicy:
                  portLevelSettings:
                  - port: {number: 80}
                    loadBalancer: {simple: LEAST_REQUEST}
            """
        let set = Fixture.set(yaml)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        let route = try #require(Self.resolve("/", in: RouteTable(compiling: set.config)))
        let cluster = try #require(route.targets.first?.cluster)
        #expect(cluster.port == port)
        #expect(cluster.trafficPolicy.connectionPool?.tcp.maxConnections == maxConnections)
        #expect(cluster.trafficPolicy.loadBalancer?.simple == balancer)
        #expect(cluster.trafficPolicy.outlierDetection?.consecutive5xxErrors == errors)
        #expect(cluster.trafficPolicy.retryBudget?.percent == budget)
        #expect(cluster.trafficPolicy.portLevelSettings.isEmpty)
    }
}
