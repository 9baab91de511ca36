import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("VirtualService decoding")
struct VirtualServiceDecodingTests {
    /// A VirtualService in namespace `shop` whose first http route is `route` (indented as an http entry).
    private func virtualService(_ route: String, extraSpec: String = "") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: vs
          namespace: shop
        spec:
          hosts: ["*"]
          gateways: [web-gateway]\(extraSpec)
          http:
        \(route)
        """
    }

    private func decodedRoute(_ route: String) -> (HTTPRoute?, [String]) {
        let (resources, diagnostics) = Fixture.decode(virtualService(route))
        guard case .virtualService(let value)? = resources.first?.resource else { return (nil, Fixture.messages(diagnostics)) }
        return (value.http.first, Fixture.messages(diagnostics))
    }

    @Test("a host's wildcard is a whole first label or the host alone, as istiod requires", arguments: ["re*views", "*.reviews.*", "reviews.*.svc", "*reviews"])
    func wildcardHosts(host: String) {
        let yaml = virtualService("  - route: [{destination: {host: web-v1-service}}]").replacingOccurrences(of: #"hosts: ["*"]"#, with: #"hosts: [""# + host + #""]"#)
        let messages = Fixture.messages(Fixture.decode(yaml).diagnostics)
        #expect(messages.contains { $0.contains("error: spec.hosts[0]: a wildcard is the whole first label (*.example.com) or the host alone (*), as Istio requires, got \"\(host)\"") }, "\(messages)")
    }

    @Test("exportTo other than [\"*\"] is warned of as not applied, naming what Istio would limit it to; [\"*\"], Istio's default, is not")
    func exportToWarned() {
        let route = "  - route: [{destination: {host: web-v1-service}}]"
        let (_, limited) = Fixture.decode(virtualService(route, extraSpec: "\n  exportTo: [\".\", shop]"))
        #expect(Fixture.messages(limited) == [
            "test.yaml:9:13: warning: spec.exportTo: not applied: Serin shows every VirtualService to every namespace's sidecars and gateways, "
                + "as exportTo [\"*\"] (Istio's default) does; Istio would limit this one to \".\", \"shop\"",
        ])
        #expect(Fixture.decode(virtualService(route, extraSpec: "\n  exportTo: [\"*\"]")).diagnostics.isEmpty)
        let (_, wrongType) = Fixture.decode(virtualService(route, extraSpec: "\n  exportTo: shop"))
        #expect(wrongType.contains { $0.severity == .error && $0.message.contains("spec.exportTo") }, "\(Fixture.messages(wrongType))")
    }

    @Test("decodes the seed's VirtualService: host, gateway, exact / and one destination on port 80")
    func seedShape() {
        let yaml = """
            apiVersion: networking.istio.io/v1alpha3
            kind: VirtualService
            metadata:
              name: web-virtualservice
            spec:
              hosts:
              - "*"
              gateways:
              - web-gateway
              http:
              - match:
                - uri:
                    exact: /
                route:
                - destination:
                    host: web-v1-service
                    port:
                      number: 80
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty)
        let expected = VirtualService(
            name: ResourceName(name: "web-virtualservice"), hosts: ["*"],
            gateways: [ResourceName(name: "web-gateway")],
            http: [
                HTTPRoute(
                    matches: [RequestMatch(uri: .exact("/"))],
                    destinations: [WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100)]
                )
            ]
        )
        #expect(resources.map(\.resource) == [.virtualService(expected)])
        #expect(resources.first?.fieldLocations["spec.http[0].route[0].destination.host"]?.line == 16)
    }

    @Test("every problem of a route entry is said in one pass: a wrong port number does not hide a wrong weight or subset")
    func everyProblemOfARouteEntry() {
        let (route, messages) = decodedRoute("""
              - route:
                - destination: {host: web, subset: [v1], port: {number: eighty}}
                  weight: "100"
            """)
        #expect(route == nil)
        #expect(messages.count == 3, "\(messages)")
        #expect(messages.contains { $0.contains("spec.http[0].route[0].destination.port.number") }, "\(messages)")
        #expect(messages.contains { $0.contains("spec.http[0].route[0].destination.subset") }, "\(messages)")
        #expect(messages.contains { $0.contains("spec.http[0].route[0].weight: expected an integer") }, "\(messages)")
    }

    @Test("resolves gateways relative to its namespace and keeps the reserved mesh gateway out")
    func gatewayReferences() {
        let (resources, diagnostics) = Fixture.decode(
            virtualService("  - route:\n    - destination: {host: web}", extraSpec: "\n  gateways: [mesh, web-gateway, istio-system/edge]")
                .replacingOccurrences(of: "  gateways: [web-gateway]\n", with: "")
        )
        #expect(diagnostics.isEmpty, "\(Fixture.messages(diagnostics))")
        guard case .virtualService(let value)? = resources.first?.resource else {
            Issue.record("no VirtualService decoded")
            return
        }
        #expect(value.gateways == [ResourceName(namespace: "shop", name: "web-gateway"), ResourceName(namespace: "istio-system", name: "edge")])
    }

    @Test(
        "gives unset weights Istio's defaults: 100 alone, 0 among several",
        arguments: [
            ("  - route:\n    - destination: {host: a}", [100]),
            ("  - route:\n    - destination: {host: a}\n      weight: 40", [40]),
            ("  - route:\n    - destination: {host: a}\n    - destination: {host: b}\n      weight: 100", [0, 100]),
            ("  - route:\n    - destination: {host: a}\n      weight: 90\n    - destination: {host: b}\n      weight: 10", [90, 10]),
        ]
    )
    func weightDefaults(route: String, weights: [Int]) {
        let (decoded, messages) = decodedRoute(route)
        #expect(messages.isEmpty)
        #expect(decoded?.destinations.map(\.weight) == weights)
    }

    @Test("decodes every kind of request match")
    func matches() throws {
        let route = """
              - name: canary-testers
                match:
                - name: by-header
                  uri: {prefix: /api}
                  method: {exact: GET}
                  scheme: {exact: http}
                  authority: {regex: "shop\\\\.example\\\\.com(:80)?"}
                  headers:
                    X-Canary: {exact: "true"}
                    Cookie: {}
                  withoutHeaders:
                    x-debug: {}
                  queryParams:
                    version: {regex: "v[0-9]+"}
                  ignoreUriCase: true
                  gateways: [web-gateway, mesh]
                  port: 8080
                  sourceLabels: {app: productpage, version: v2}
                  sourceNamespace: shop
                route:
                - destination: {host: web, subset: v2, port: {number: 80}}
            """
        let (decoded, messages) = decodedRoute(route)
        #expect(messages.isEmpty)
        let expected = RequestMatch(
            name: "by-header", uri: .prefix("/api"), scheme: .exact("http"), method: .exact("GET"),
            authority: .regex(try RegexPattern(#"shop\.example\.com(:80)?"#)),
            headers: ["x-canary": .exact("true"), "cookie": .present], withoutHeaders: ["x-debug": .present],
            queryParams: ["version": .regex(try RegexPattern("v[0-9]+"))], ignoreUriCase: true,
            gateways: [ResourceName(namespace: "shop", name: "web-gateway"), ResourceName(namespace: "shop", name: "mesh")],
            port: 8080, source: SourceCondition(labels: ["app": "productpage", "version": "v2"], namespace: "shop")
        )
        #expect(decoded?.name == "canary-testers")
        #expect(decoded?.matches == [expected])
        #expect(decoded?.destinations.first?.destination == Destination(host: "web", subset: "v2", port: 80))
    }

    @Test(
        "rejects malformed string matches with their location",
        arguments: [
            (
                "  - match:\n    - uri: {regex: \"(unclosed\"}\n    route:\n    - destination: {host: a}",
                "test.yaml:11:20: error: spec.http[0].match[0].uri.regex: invalid regex \"(unclosed\": expected ')'"
            ),
            (
                "  - match:\n    - uri: {exact: /a, prefix: /b}\n    route:\n    - destination: {host: a}",
                "test.yaml:11:12: error: spec.http[0].match[0].uri: set only one of exact, prefix or regex, got exact and prefix"
            ),
            (
                "  - match:\n    - uri: {}\n    route:\n    - destination: {host: a}",
                "test.yaml:11:12: error: spec.http[0].match[0].uri: expected one of exact, prefix or regex"
            ),
            (
                "  - match:\n    - sourceLabels: {app: [productpage]}\n    route:\n    - destination: {host: a}",
                "test.yaml:11:27: error: spec.http[0].match[0].sourceLabels.app: expected a string, got a list"
            ),
        ]
    )
    func malformedMatches(route: String, message: String) {
        let (decoded, messages) = decodedRoute(route)
        #expect(decoded == nil)
        #expect(messages == [message])
    }

    @Test("rejects a prefix match on queryParams, which Istio does not support")
    func queryParamPrefix() {
        let (_, messages) = decodedRoute("  - match:\n    - queryParams:\n        v: {prefix: \"2\"}\n    route:\n    - destination: {host: a}")
        #expect(
            messages == [
                "test.yaml:12:21: error: spec.http[0].match[0].queryParams.v.prefix: Istio does not support prefix "
                    + "matches on queryParams; use exact or regex"
            ]
        )
    }

    @Test(
        "warns about HTTP route features the embedded gateway does not apply yet",
        arguments: ["mirror_percent"]
    )
    func notApplied(feature: String) {
        let (decoded, messages) = decodedRoute("  - route:\n    - destination: {host: a}\n    \(feature): {}")
        #expect(messages == ["test.yaml:12:5: warning: spec.http[0].\(feature) is not applied by the embedded gateway yet"])
        #expect(decoded?.destinations.count == 1)
    }

    @Test("requires a route when there is no redirect or direct response")
    func routeRequired() {
        let (_, messages) = decodedRoute("  - match:\n    - uri: {prefix: /}")
        #expect(messages == ["test.yaml:10:5: error: spec.http[0]: expected route, redirect, directResponse or delegate"])
    }

    @Test("a host with a port is an error at the entry, as Istio refuses it: the routes would never match; an IPv6 address is not one")
    func hostWithPort() {
        let yaml = virtualService("  - route: [{destination: {host: reviews}}]").replacingOccurrences(of: "hosts: [\"*\"]", with: "hosts: [reviews, \"reviews:9080\"]")
        let (_, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:7:20: error: spec.hosts[1]: expected a host name without a port, got \"reviews:9080\": the routes apply on every port of the host; to route one port only, add `port` to a match",
        ])
        let names = virtualService("  - route: [{destination: {host: reviews}}]").replacingOccurrences(of: "hosts: [\"*\"]", with: "hosts: [reviews, \"fd00::1\", \"*.example.com\"]")
        #expect(Fixture.decode(names).1.isEmpty)
    }
}
