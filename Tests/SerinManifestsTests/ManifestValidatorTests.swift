import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("ManifestValidator")
struct ManifestValidatorTests {
    /// Fixture.world plus a VirtualService bound to web-gateway whose first http entry is `http`.
    private func validate(gateways: String = "[web-gateway]", _ http: String, more: String = "") -> [String] {
        let yaml = Fixture.world + """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs}
            spec:
              hosts: ["*"]
              gateways: \(gateways)
              http:
            \(http)
            """ + more
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty, "decoding: \(Fixture.messages(diagnostics))")
        return Fixture.messages(ManifestValidator.validate(resources))
    }

    /// `test.yaml:L:C` for line `line` of the VirtualService appended to the world.
    private func at(_ line: Int, _ column: Int) -> String {
        "test.yaml:\(Fixture.worldLines + line):\(column)"
    }

    @Test("a well-formed canary split validates cleanly, weight 0 included")
    func clean() {
        let http = """
              - route:
                - destination: {host: web-v1-service, port: {number: 80}}
                  weight: 0
                - destination: {host: web-v2-service, port: {number: 80}}
                  weight: 100
            """
        #expect(validate(http) == [])
    }

    @Test("weights are relative, as Istio's since 1.15: any sum is valid, but several destinations need some weight above 0")
    func weightSum() {
        let http = """
              - route:
                - destination: {host: web-v1-service}
                  weight: 90
                - destination: {host: web-v2-service}
                  weight: 20
            """
        #expect(validate(http) == [])
        let none = http.replacingOccurrences(of: "weight: 90", with: "weight: 0").replacingOccurrences(of: "weight: 20", with: "weight: 0")
        #expect(
            validate(none) == [
                "\(at(9, 5)): error: weights sum to 0: among several destinations, some need a weight above 0 (each takes its weight over the sum)"
            ]
        )
    }

    @Test("a weight must not be negative; above 100 it is a share like any other", arguments: [120, -5])
    func weightRange(weight: Int) {
        let http = """
              - route:
                - destination: {host: web-v1-service}
                  weight: \(weight)
            """
        let expected = weight < 0 ? ["\(at(10, 15)): error: spec.http[0].route[0].weight: expected a weight of 0 or more, got \(weight)"] : []
        #expect(validate(http) == expected)
    }

    @Test(
        "every destination must reach a service, subset and port that exist",
        arguments: [
            ("{host: web-v3-service}", 27, "spec.http[0].route[0].destination.host: web-v3-service does not resolve to a Service or ServiceEntry"),
            ("{host: web-v1-service, subset: v3}", 51,
             "spec.http[0].route[0].destination.subset: subset v3 of web-v1-service is not defined by any DestinationRule for that host"),
            ("{host: web-v1-service, port: {number: 8080}}", 58,
             "spec.http[0].route[0].destination.port.number: port 8080 is not exposed by web-v1-service (it exposes 80)"),
        ]
    )
    func destinations(destination: String, column: Int, message: String) {
        let http = "  - route:\n    - destination: \(destination)"
        #expect(validate(http) == ["\(at(9, column)): error: \(message)"])
    }

    @Test(
        "a mirror must reach a service, subset and port that exist, like a destination",
        arguments: [
            ("{host: web-v3-service}", 20, "spec.http[0].mirror.host: web-v3-service does not resolve to a Service or ServiceEntry"),
            ("{host: web-v2-service, subset: v9}", 44,
             "spec.http[0].mirror.subset: subset v9 of web-v2-service is not defined by any DestinationRule for that host"),
            ("{host: web-v2-service, port: {number: 8080}}", 51, "spec.http[0].mirror.port.number: port 8080 is not exposed by web-v2-service (it exposes 80)"),
        ]
    )
    func mirrorDestination(mirror: String, column: Int, message: String) {
        let http = "  - route:\n    - destination: {host: web-v1-service}\n    mirror: \(mirror)"
        #expect(validate(http) == ["\(at(10, column)): error: \(message)"])
        #expect(validate("  - route:\n    - destination: {host: web-v1-service}\n    mirror: {host: web-v2-service}") == [])
    }

    @Test("each of mirrors must reach a service that exists, named at its entry")
    func mirrorsDestinations() {
        let http = "  - route:\n    - destination: {host: web-v1-service}\n    mirrors:\n    - destination: {host: web-v2-service}\n"
            + "    - destination: {host: web-v3-service}"
        #expect(
            validate(http) == [
                "\(at(12, 27)): error: spec.http[0].mirrors[1].destination.host: web-v3-service does not resolve to a Service or ServiceEntry"
            ]
        )
    }

    @Test("a subset defined by a DestinationRule for the host is accepted")
    func definedSubset() {
        let rule = "\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web-v1}\nspec:\n  host: web-v1-service\n  subsets:\n  - name: v1\n    labels: {version: v1}\n"
        #expect(validate("  - route:\n    - destination: {host: web-v1-service, subset: v1}", more: rule) == [])
    }

    @Test("a subset whose labels select none of its service's endpoints is a warning, as a host without endpoints is: its requests would be answered 503")
    func subsetWithoutEndpoints() {
        let rule = "\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web-v1}\nspec:\n  host: web-v1-service\n  subsets:\n  - name: v9\n    labels: {version: v9, tier: web}\n"
        #expect(
            validate("  - route:\n    - destination: {host: web-v1-service, subset: v9}", more: rule) == [
                "\(at(9, 51)): warning: subset v9 of web-v1-service selects none of its endpoints (labels tier=web,version=v9): requests sent to it are answered 503"
            ]
        )
    }

    @Test("a gateway the VirtualService names must exist; the mesh gateway is never missing")
    func missingGateway() {
        let http = "  - route:\n    - destination: {host: web-v1-service}"
        #expect(
            validate(gateways: "[mesh, web-gatewy]", http)
                == ["\(at(6, 20)): error: gateway default/web-gatewy does not exist (gateways: default/web-gateway)"]
        )
        #expect(validate(gateways: "[mesh, web-gateway]", http) == [])
    }

    @Test(
        "a gateway that is in the files but has errors is said to be that, at its first error, not said not to exist; so is a Canary's VirtualService"
    )
    func unreadGateway() {
        let gateway = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLEX, serverCertificate: a.pem, privateKey: b.pem}
            ---

            """
        func virtualService(route: String) -> String {
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web}
            spec:
              hosts: ["*"]
              gateways: [edge]
              http:
              - \(route)
                route:
                - destination: {host: web-v1-service}
            ---
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: web}
            spec:
              targetRef: {name: web}
              canary: {host: web-v2-service}
              analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}
            """
        }
        let unreadGateway = Fixture.messages(Fixture.set(Fixture.world + gateway + virtualService(route: "timeout: 5s")).diagnostics)
        #expect(unreadGateway.contains { $0.contains("error: spec.servers[0].tls.mode: expected one of") }, "\(unreadGateway)")
        let gatewayError = "test.yaml:\(Fixture.worldLines + 8):17"
        #expect(
            unreadGateway.contains("test.yaml:\(Fixture.worldLines + 15):14: error: gateway default/edge is not read: it has errors (the first at \(gatewayError))"),
            "\(unreadGateway)"
        )
        let unreadRoute = Fixture.messages(Fixture.set(Fixture.world + virtualService(route: "timeout: soon")).diagnostics)
        #expect(unreadRoute.contains("test.yaml:\(Fixture.worldLines + 8):14: error: spec.http[0].timeout: expected a duration like 500ms, 0.5s or 1m, got \"soon\""), "\(unreadRoute)")
        #expect(
            unreadRoute.contains { $0.hasSuffix(": error: VirtualService default/web is not read: it has errors (the first at test.yaml:\(Fixture.worldLines + 8):14)") },
            "\(unreadRoute)"
        )
        #expect(!(unreadGateway + unreadRoute).contains { $0.contains("does not exist") }, "\(unreadGateway + unreadRoute)")
    }

    @Test("a gateway a match names must exist")
    func missingMatchGateway() {
        let http = "  - match:\n    - gateways: [mesh, edge]\n    route:\n    - destination: {host: web-v1-service}"
        #expect(validate(http) == ["\(at(9, 24)): error: gateway default/edge does not exist (gateways: default/web-gateway)"])
    }

    @Test("a VirtualService bound only to the mesh is served by no gateway, and the warning points to --mesh")
    func meshOnly() {
        let http = "  - route:\n    - destination: {host: web-v1-service}"
        #expect(
            validate(gateways: "[mesh]", http) == [
                "\(at(6, 13)): warning: VirtualService default/vs is bound to no gateway (only the mesh), "
                    + "so only the mesh listener serves it: run serin up|gateway with --mesh HOST:PORT and reach it through that"
            ]
        )
    }

    @Test("a second mesh VirtualService of a host the first routes is warned of: Istio's sidecars keep the first one's routes alone (IST0109)")
    func meshHostConflict() {
        let http = "  - route:\n    - destination: {host: web-v1-service}"
        let second = """

            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs-b}
            spec:
              hosts: ["*"]
              http:
              - route:
                - destination: {host: web-v2-service}
            """
        let messages = validate(gateways: "[mesh]", http, more: second)
        #expect(
            messages.contains { $0.contains("warning: VirtualService default/vs-b routes host * on port 80 in the mesh, as VirtualService vs before it does: as Istio's sidecars, only the first one's routes apply there") },
            "\(messages)"
        )
    }

    @Test("a Service without a ServiceEntry has no endpoints in embedded mode")
    func noEndpoints() {
        let service = "\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web-v3-service}\nspec:\n  ports: [{port: 80}]\n"
        let http = "  - route:\n    - destination: {host: web-v3-service}"
        #expect(
            validate(http, more: service) == [
                "\(at(9, 27)): warning: web-v3-service has no endpoints in embedded mode: add a ServiceEntry with STATIC endpoints"
            ]
        )
    }

    @Test("an HTTP destination of a service with several ports may leave the port out, as in Istio: a request takes the port it arrived on, and a Gateway port the service lacks is a warning")
    func portFromTheRequest() {
        func entry(_ ports: String) -> String {
            """

            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api}
            spec:
              hosts: [api]
              resolution: STATIC
              ports: [\(ports)]
              endpoints: [{address: 127.0.0.1}]

            """
        }
        let http = "  - route:\n    - destination: {host: api}"
        // The gateway's port 80 is one of the service's: its requests go to api:80.
        #expect(validate(http, more: entry("{number: 80, name: http}, {number: 8080, name: admin}")) == [])
        let elsewhere = entry("{number: 9080, name: http}, {number: 9090, name: admin}")
        #expect(
            validate(http, more: elsewhere) == [
                "\(at(9, 20)): warning: spec.http[0].route[0].destination.port is not written and api exposes several ports (9080, 9090): "
                    + "a request takes the port it arrived on, as Istio routes it, and Gateway web-gateway's port 80 is none of them, so its "
                    + "requests would be answered 503; write the port",
            ]
        )
        // In the mesh a request arrives on one of the service's own ports.
        #expect(validate(gateways: "[mesh]", "  - route:\n    - destination: {host: api}", more: elsewhere).filter { $0.contains("api") } == [])
    }

    @Test("two resources of one kind with one name are an error at the second")
    func duplicates() {
        let http = "  - route:\n    - destination: {host: web-v1-service}"
        let again = "\n---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [a]\n  gateways: [web-gateway]\n  http: []\n"
        #expect(validate(http, more: again) == ["\(at(11, 1)): error: duplicate VirtualService default/vs: already defined at \(at(1, 1))"])
    }

    @Test("warns about a host no server of the bound gateways admits")
    func unadmittedHost() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*.shop.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: blog}
            spec:
              hosts: [www.shop.example.com, blog.example.com]
              gateways: [shop]
              http: []
            """
        let set = Fixture.set(yaml)
        #expect(
            Fixture.messages(set.diagnostics) == [
                "test.yaml:13:33: warning: host blog.example.com is not admitted by any server of gateway default/shop, "
                    + "so it gets no traffic there"
            ]
        )
    }

    @Test("a mesh VirtualService's match on a port no service of its hosts has is warned of: in the mesh it never applies")
    func meshMatchOnAMissingPort() {
        let yaml = """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1, ports: {http: 19081}}]
            ---
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - match: [{port: 9080}, {port: 1234}]
                route: [{destination: {host: reviews}}]
            """
        let warnings = Fixture.messages(Fixture.set(yaml).warnings).filter { !$0.contains("--mesh") }
        #expect(warnings == [
            "test.yaml:17:34: warning: spec.http[0].match[1].port: no service of this VirtualService's hosts has port 1234 (ports: 9080), "
                + "so in the mesh this match never applies",
        ], "\(warnings)")
    }
    @Test("a match naming a source workload that no bound Gateway is, in a VirtualService for Gateways alone, is warned of: it never applies")
    func gatewaySourceLabels() {
        let http = """
              - match: [{sourceLabels: {app: productpage}}]
                route: [{destination: {host: web-v2-service}}]
              - route: [{destination: {host: web-v1-service}}]
            """
        #expect(validate(http) == [
            "\(at(8, 28)): warning: spec.http[0].match[0].sourceLabels: at a gateway the source workload is the gateway itself, and none this "
                + "VirtualService is bound to is the one named — web-gateway (no selector in default) — so this match never applies; for "
                + "requests between services, bind the VirtualService to the mesh (no gateways, or mesh listed)",
        ])
        // Bound to the mesh too, it applies at the sidecars of that workload; the gateway's own namespace fits.
        #expect(validate(gateways: "[web-gateway, mesh]", http).filter { !$0.contains("--mesh") } == [])
        #expect(validate(http.replacingOccurrences(of: "sourceLabels: {app: productpage}", with: "sourceNamespace: default")) == [])
    }
}
