import Foundation
import SerinCore
import SerinManifests
import Testing

/// Which destinations the gateway speaks HTTP/2 to, chosen from the manifests as Istio's protocol selection does.
@Suite("Upstream protocol selection")
struct UpstreamProtocolTests {
    /// A gateway route to `echo`, a ServiceEntry for it with `port`, and anything else (`extra`: YAML documents).
    static func world(port: String, rule: String = "") -> String {
        let documents = [
            "kind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}]}",
            "kind: VirtualService\nmetadata: {name: echo}\nspec: {hosts: [\"*\"], gateways: [gw], http: [{route: [{destination: {host: echo}}]}]}",
            "kind: ServiceEntry\nmetadata: {name: echo}\n"
                + "spec: {hosts: [echo], location: MESH_INTERNAL, resolution: STATIC, ports: [\(port)], endpoints: [{address: 127.0.0.1}]}",
        ]
        return documents.map { "apiVersion: networking.istio.io/v1beta1\n" + $0 }.joined(separator: "\n---\n") + rule
    }

    static func speaksHTTP2(_ yaml: String) throws -> Bool {
        let set = Fixture.set(yaml)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let table = RouteTable(compiling: set.config)
        let request = RequestAttributes(method: "GET", target: "/", authority: "echo", headers: HeaderList())
        guard case .route(let route) = table.resolve(request, port: 80) else { throw UnexpectedRoute() }
        return try #require(route.targets.first).cluster.speaksHTTP2
    }

    struct UnexpectedRoute: Error {}

    @Test("a ServiceEntry's subjectAltNames are the names checked where its DestinationRule sets sni and none of its own, as Istio applies them; without sni the request's host is checked instead")
    func serviceEntrySubjectAltNames() throws {
        func tls(_ tls: String) throws -> ClientTLS? {
            let yaml = Self.world(port: "{number: 80, name: http}")
                .replacingOccurrences(of: "resolution: STATIC,", with: "resolution: STATIC, subjectAltNames: [echo.internal],")
                + "\n---\napiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata: {name: echo}\n"
                + "spec: {host: echo, trafficPolicy: {tls: \(tls)}}"
            let set = Fixture.set(yaml)
            #expect(set.errors.isEmpty, "\(set.errors)")
            let request = RequestAttributes(method: "GET", target: "/", authority: "echo", headers: HeaderList())
            guard case .route(let route) = RouteTable(compiling: set.config).resolve(request, port: 80) else { throw UnexpectedRoute() }
            return try #require(route.targets.first).cluster.trafficPolicy.tls
        }
        #expect(try tls("{mode: SIMPLE, sni: echo.example.com}")?.verifiedNames(host: "echo") == ["echo.internal"])
        #expect(try tls("{mode: SIMPLE, sni: echo.example.com, subjectAltNames: [mine]}")?.verifiedNames(host: "echo") == ["mine"])
        #expect(try tls("{mode: SIMPLE}")?.verifiedNames(host: "echo") == ["echo"])
    }

    @Test(
        "a ServiceEntry port speaks HTTP/2 by protocol HTTP2 or GRPC, or by a grpc-/http2- name when its protocol says nothing",
        arguments: [
            ("{number: 80, name: grpc-api, protocol: GRPC}", true), ("{number: 80, name: web, protocol: HTTP2}", true),
            ("{number: 80, name: http2-web}", true), ("{number: 80, name: grpc}", true), ("{number: 80, name: http, protocol: HTTP}", false),
            ("{number: 80, name: grpc-web, protocol: HTTP}", false), ("{number: 80, name: grpcish}", false),
        ]
    )
    func serviceEntryPorts(port: String, http2: Bool) throws {
        #expect(try Self.speaksHTTP2(Self.world(port: port)) == http2)
    }

    @Test("h2UpgradePolicy UPGRADE makes an HTTP port HTTP/2; DO_NOT_UPGRADE keeps a GRPC port on HTTP/1.1")
    func upgradePolicy() throws {
        func rule(_ policy: String) -> String {
            """

            ---
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: echo}
            spec: {host: echo, trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: \(policy)}}}}
            """
        }
        #expect(try Self.speaksHTTP2(Self.world(port: "{number: 80, name: http, protocol: HTTP}", rule: rule("UPGRADE"))))
        #expect(try !Self.speaksHTTP2(Self.world(port: "{number: 80, name: grpc, protocol: GRPC}", rule: rule("DO_NOT_UPGRADE"))))
        #expect(try Self.speaksHTTP2(Self.world(port: "{number: 80, name: grpc, protocol: GRPC}", rule: rule("DEFAULT"))))
    }

    @Test("an h2UpgradePolicy Istio does not know is an error at the field that lists the values")
    func unknownUpgradePolicy() {
        let set = Fixture.set("""
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: echo}
            spec: {host: echo, trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: ALWAYS}}}}
            """)
        #expect(Fixture.messages(set.diagnostics).contains {
            $0.contains("spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: expected one of DEFAULT, DO_NOT_UPGRADE, UPGRADE, got \"ALWAYS\"")
        }, "\(Fixture.messages(set.diagnostics))")
    }

    @Test("a Kubernetes Service port speaks HTTP/2 by appProtocol kubernetes.io/h2c or grpc, or by its name")
    func kubernetesServicePorts() {
        let ports = [
            "{name: web, port: 80, appProtocol: kubernetes.io/h2c}", "{name: rpc, port: 81, appProtocol: grpc}", "{name: grpc-api, port: 82}",
            "{name: grpc-but-http, port: 83, appProtocol: http}", "{name: http, port: 84}",
        ]
        let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {ports: [\(ports.joined(separator: ", "))]}"
        let config = MeshConfig(resources: Fixture.decode(yaml).resources)
        #expect(config.services.first?.ports.map(\.speaksHTTP2) == [true, true, true, false, false])
    }
}
