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
}
