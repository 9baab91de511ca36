import Foundation
import SerinCore
import SerinManifests
import SerinTesting
import Testing

/// PASSTHROUGH Gateway servers and VirtualService `tls` routes: decoded in Istio's shape, every bad field
/// reported where it was written.
@Suite("TLS route decoding")
struct TLSRouteDecodingTests {
    static let gateway = SeedManifests.passthroughGateway(hosts: ["db.example.com", "*.apps.example.com"]) + "\n---\n"

    static let services = ["db-v1", "db-v2"].enumerated().map { index, name in
        "\n---\n" + SeedManifests.serviceEntry(name, port: 9443 + index, version: "v\(index + 1)").text
    }.joined()

    /// A VirtualService `db` on `edge` for db.example.com with `tls` as written (indented under `spec:`).
    static func virtualService(_ tls: String, hosts: String = "[db.example.com]") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: db}
        spec:
          hosts: \(hosts)
          gateways: [edge]
        \(tls)
        """
    }

    static let routed = """
          tls:
          - match:
            - port: 443
              sniHosts: [db.example.com]
            route:
            - destination: {host: db-v1, port: {number: 80}}
              weight: 90
            - destination: {host: db-v2, port: {number: 80}}
              weight: 10
        """

    @Test("decodes a PASSTHROUGH server and Istio's tls route: sniHosts, port, weighted destinations")
    func decodes() throws {
        let set = Fixture.set(Self.gateway + Self.virtualService(Self.routed) + Self.services)
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        let server = try #require(set.config.gateways.first?.servers.first)
        #expect(server.passesThrough && server.tls == nil && !server.terminatesTLS)
        let route = try #require(set.config.virtualServices.first?.tls.first)
        #expect(route.matches == [TLSMatch(sniHosts: ["db.example.com"], port: 443)])
        #expect(route.destinations.map(\.weight) == [90, 10])
        #expect(route.destinations.map(\.destination) == [Destination(host: "db-v1", port: 80), Destination(host: "db-v2", port: 80)])
    }

    @Test("an HTTPS server with mode PASSTHROUGH passes through too, as Istio accepts")
    func httpsPassthrough() throws {
        let gateway = Self.gateway.replacingOccurrences(of: "name: tls, protocol: TLS", with: "name: https, protocol: HTTPS")
        let set = Fixture.set(gateway + Self.virtualService(Self.routed) + Self.services)
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(set.config.gateways.first?.servers.first?.passesThrough == true)
    }

    @Test(
        "reports each bad tls route field at its line, with what was expected",
        arguments: [
            (
                "  tls:\n  - match:\n    - sniHosts: [other.example.com]\n    route: [{destination: {host: db-v1}}]",
                "test.yaml:9:18: error: spec.tls[0].match[0].sniHosts[0]: other.example.com is not covered by the "
                    + "VirtualService's hosts (db.example.com); Istio requires every sniHost to be one of them or to match one"
            ),
            (
                "  tls:\n  - match:\n    - sniHosts: [db.example.com]\n      sourceLabels: [app, web]\n    route: [{destination: {host: db-v1}}]",
                "test.yaml:10:21: error: spec.tls[0].match[0].sourceLabels: expected a mapping, got a list"
            ),
            (
                "  tls:\n  - match:\n    - sniHosts: [db.example.com]\n      destinationSubnets: [10.0.0.0/8]\n    route: [{destination: {host: db-v1}}]",
                "test.yaml:10:27: error: spec.tls[0].match[0].destinationSubnets is not supported by the embedded gateway: the "
                    + "gateway routes by server name only; it does not know where a connection was headed"
            ),
            (
                "  tls:\n  - route: [{destination: {host: db-v1}}]",
                "test.yaml:8:5: error: spec.tls[0].match is required"
            ),
            (
                "  tls:\n  - match:\n    - port: 443\n    route: [{destination: {host: db-v1}}]",
                "test.yaml:9:7: error: spec.tls[0].match[0].sniHosts is required"
            ),
            (
                "  tls:\n  - match: [{sniHosts: [db.example.com]}]\n    route: []",
                "test.yaml:9:12: error: spec.tls[0].route: expected at least one destination"
            ),
            (
                "  tls:\n  - match: [{sniHosts: [db.example.com]}]\n    route: [{destination: {host: db-v1}, headers: {}}]",
                "test.yaml:9:42: warning: unknown field spec.tls[0].route[0].headers"
            ),
        ]
    )
    func badField(tls: String, message: String) {
        let (_, diagnostics) = Fixture.decode(Self.virtualService(tls))
        #expect(Fixture.messages(diagnostics).contains(message), "\(Fixture.messages(diagnostics))")
    }

    @Test("weights of a tls route follow the http routes' rules")
    func weights() {
        let tls = Self.routed.replacingOccurrences(of: "weight: 10", with: "weight: 0").replacingOccurrences(of: "weight: 90", with: "weight: 0")
        let set = Fixture.set(Self.gateway + Self.virtualService(tls) + Self.services)
        #expect(Fixture.messages(set.errors) == ["test.yaml:21:5: error: weights sum to 0: among several destinations, some need a weight above 0 (each takes its weight over the sum)"])
    }

    @Test("a tls route needs a PASSTHROUGH server on its gateways and port")
    func noPassthroughServer() {
        let tls = Self.routed.replacingOccurrences(of: "port: 443", with: "port: 8443")
        let set = Fixture.set(Self.gateway + Self.virtualService(tls) + Self.services)
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:18:7: error: spec.tls[0].match[0]: no PASSTHROUGH server on port 8443 in default/edge, so this tls "
                    + "route gets no traffic: tls routes are served by Gateway servers with tls.mode PASSTHROUGH, and in the mesh on "
                    + "the ports of the services the VirtualService's hosts name (or the ports its matches name, when they name no "
                    + "known service)"
            ]
        )
    }

    @Test("a tls route bound to the mesh alone is served on the port its match names, with no Gateway at all")
    func meshBound() {
        let yaml = Self.virtualService(Self.routed).replacingOccurrences(of: "  gateways: [edge]\n", with: "") + Self.services
        let set = Fixture.set(yaml)
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(Fixture.messages(set.diagnostics).allSatisfy { $0.contains("bound to no gateway (only the mesh)") }, "\(Fixture.messages(set.diagnostics))")
        #expect(RouteTable(compiling: set.config).meshTLS.keys.sorted() == [443])
    }

    @Test("a mesh tls route with no known service and no port in its match has no port to serve, and says so at the match")
    func meshBoundWithoutPort() {
        let yaml = Self.virtualService(Self.routed.replacingOccurrences(of: "    - port: 443\n      sniHosts", with: "    - sniHosts"))
            .replacingOccurrences(of: "  gateways: [edge]\n", with: "") + Self.services
        let set = Fixture.set(yaml)
        #expect(Fixture.messages(set.errors).count == 1)
        #expect(Fixture.messages(set.errors).first?.hasPrefix("test.yaml:8:7: error: spec.tls[0].match[0]: no PASSTHROUGH server in the mesh only") == true, "\(Fixture.messages(set.errors))")
    }

    @Test(
        "a Service port's name or appProtocol selects the protocol the mesh does not read, as Istio's do",
        arguments: [
            ("name: tcp-postgres", ServicePort.OpaqueProtocol.tcp), ("name: https", .tls), ("name: web, appProtocol: tls", .tls),
            ("name: tcp, appProtocol: http", nil), ("name: http", nil),
        ] as [(String, ServicePort.OpaqueProtocol?)]
    )
    func servicePortProtocol(fields: String, expected: ServicePort.OpaqueProtocol?) throws {
        let set = Fixture.set("apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  ports: [{port: 5432, \(fields)}]\n")
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(try #require(set.config.services.first?.ports.first).opaque == expected)
    }

    @Test("http routes of a mesh VirtualService whose services have only tcp or tls ports are warned about: the mesh does not read those ports as HTTP")
    func httpRoutesOnOpaquePorts() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: db}
            spec:
              hosts: [db]
              http:
              - route: [{destination: {host: db}}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: db}
            spec:
              ports: [{port: 5432, name: tcp-postgres}]
            """
        let warnings = Fixture.messages(Fixture.set(yaml).diagnostics).filter { $0.contains("no HTTP port") }
        #expect(warnings == [
            "test.yaml:7:3: warning: spec.http: the services this VirtualService's hosts name have no HTTP port — 5432 (tcp-postgres: tcp) — "
                + "and the mesh carries such ports as TCP or TLS without reading them, so these http routes serve no request in the mesh "
                + "(Istio's sidecars ignore them too): name the port http-… (or set appProtocol: http), or route it with tcp or tls routes",
        ])
        let http = yaml.replacingOccurrences(of: "name: tcp-postgres", with: "name: http")
        #expect(Fixture.messages(Fixture.set(http).diagnostics).allSatisfy { !$0.contains("no HTTP port") })
    }

    @Test("a PASSTHROUGH server's host that no tls route names is warned about")
    func unroutedHost() {
        let set = Fixture.set(Self.gateway + Self.virtualService(Self.routed) + Self.services)
        #expect(
            Fixture.messages(set.diagnostics.filter { $0.severity == .warning }) == [
                "test.yaml:7:31: warning: host *.apps.example.com of PASSTHROUGH server port 443 has no tls route: no "
                    + "VirtualService bound to default/edge names it in sniHosts, so its connections are closed"
            ]
        )
    }

    @Test(
        "a namespace-qualified PASSTHROUGH host counts only the tls routes of the namespace it names (./ the Gateway's own): another namespace's is no route for it",
        arguments: [("prod/db.example.com", true), ("default/db.example.com", false), ("./db.example.com", false), ("*/db.example.com", false)]
    )
    func unroutedHostInItsNamespace(host: String, warned: Bool) {
        let gateway = SeedManifests.passthroughGateway(hosts: [host]) + "\n---\n"
        let set = Fixture.set(gateway + Self.virtualService(Self.routed) + Self.services)
        let warnings = Fixture.messages(set.diagnostics.filter { $0.severity == .warning })
        let unrouted = "warning: host \(host) of PASSTHROUGH server port 443 has no tls route: no VirtualService in namespace prod bound to "
            + "default/edge names it in sniHosts, so its connections are closed"
        #expect(warnings.contains { $0.hasSuffix(unrouted) } == warned, "\(warnings)")
        #expect(!warnings.contains { $0.contains("has no tls route") } == !warned, "\(warnings)")
    }

    /// The gateway, the db VirtualService and the services, with `server` added to the gateway after its PASSTHROUGH one.
    static func set(addingServer server: String) -> ManifestSet {
        let gateway = Self.gateway.replacingOccurrences(of: "    tls: {mode: PASSTHROUGH}", with: "    tls: {mode: PASSTHROUGH}\n" + server)
        return Fixture.set(gateway + Self.virtualService(Self.routed) + Self.services)
    }

    static func httpsServer(host: String) -> String {
        "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\(host)]\n"
            + "    tls: {mode: SIMPLE, serverCertificate: /etc/hosts, privateKey: /etc/hosts}"
    }

    @Test("one port is TLS (PASSTHROUGH, HTTPS) or plaintext, not both")
    func mixedPort() {
        let set = Self.set(addingServer: "  - port: {number: 443, name: http, protocol: HTTP}\n    hosts: [web.example.com]")
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:9:47: error: spec.servers[1].port.protocol: port 443 is served by Gateway default/edge "
                    + "spec.servers[0] (TLS) already, which passes TLS through; this server serves plaintext. A port serves "
                    + "TLS or plaintext, so plaintext servers and HTTPS or PASSTHROUGH servers need different ports"
            ]
        )
    }

    @Test("a PASSTHROUGH server and an HTTPS server share a port: the ClientHello's server name tells them apart")
    func besideHTTPS() {
        let set = Self.set(addingServer: Self.httpsServer(host: "web.example.com"))
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        let table = RouteTable(compiling: set.config)
        #expect(table.listeners[443]?.terminatesTLS == true && table.passthrough[443] != nil)
    }

    @Test("an HTTPS server's host that a PASSTHROUGH server on its port also lists is warned about: it is never terminated")
    func shadowedHost() {
        let set = Self.set(addingServer: Self.httpsServer(host: "web.apps.example.com"))
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(
            Fixture.messages(set.diagnostics).contains(
                "test.yaml:10:13: warning: host web.apps.example.com is also listed by the PASSTHROUGH server Gateway default/edge "
                    + "spec.servers[0] on port 443: connections naming it are passed through, never terminated by this HTTPS server"
            ),
            "\(Fixture.messages(set.diagnostics))"
        )
    }

    @Test("a Canary on a VirtualService with only tls routes is refused: the judge needs HTTP metrics")
    func canaryOnTLSRoutes() {
        let canary = """

            ---
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata: {name: db}
            spec:
              targetRef: {name: db}
              stable: {host: db-v1, port: 80}
              canary: {host: db-v2, port: 80}
              analysis: {interval: 10s, stepWeight: 10, maxWeight: 50, threshold: 2}
            """
        let set = Fixture.set(Self.gateway + Self.virtualService(Self.routed) + Self.services + canary)
        #expect(
            Fixture.messages(set.errors).contains(
                "test.yaml:60:21: error: VirtualService default/db has only tls routes: a Canary's judge needs HTTP metrics "
                    + "(request success rate and duration), which passed-through TLS connections do not give, so Serin moves the "
                    + "weights of http and tcp routes only"
            ),
            "\(Fixture.messages(set.errors))"
        )
    }

    @Test("examples/passthrough loads with no errors or warnings: one PASSTHROUGH server, two VirtualServices of tls routes")
    func example() {
        let path = Fixture.repositoryRoot.appendingPathComponent("examples/passthrough").path
        let set = ManifestSet(sources: ManifestLoader.load(paths: [path], recursive: false).sources)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        #expect(set.config.gateways.flatMap(\.servers).map(\.passesThrough) == [true])
        #expect(set.config.virtualServices.map { $0.tls.count } == [1, 1])
    }
}
