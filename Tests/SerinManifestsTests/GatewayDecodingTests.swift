import SerinCore
import SerinManifests
import Testing

@Suite("Gateway decoding")
struct GatewayDecodingTests {
    private func gatewayYAML(server: String) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata:
          name: gw
          namespace: edge
        spec:
          servers:
        \(server)
        """
    }

    @Test("decodes selector and servers with port, name, protocol and hosts")
    func decodesServers() {
        let yaml = """
            apiVersion: networking.istio.io/v1alpha3
            kind: Gateway
            metadata:
              name: web-gateway
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port:
                  number: 8080
                  name: http-alt
                  protocol: HTTP
                hosts:
                - "*.example.com"
                - shop/web.example.com
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty)
        let expected = Gateway(
            name: ResourceName(name: "web-gateway"), selector: ["istio": "ingressgateway"],
            servers: [.init(port: 8080, portName: "http-alt", protocol: "HTTP", hosts: ["*.example.com", "shop/web.example.com"])]
        )
        #expect(resources.map(\.resource) == [.gateway(expected)])
    }

    @Test(
        "rejects TLS servers, which the embedded gateway cannot serve",
        arguments: [
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]",
                "test.yaml:8:48: error: spec.servers[0].port.protocol: HTTPS servers are not supported: the embedded "
                    + "gateway does not terminate or pass through TLS; use protocol HTTP"
            ),
            (
                "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: [\"*\"]",
                "test.yaml:8:46: error: spec.servers[0].port.protocol: TLS servers are not supported: the embedded "
                    + "gateway does not terminate or pass through TLS; use protocol HTTP"
            ),
            (
                "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    tls: {httpsRedirect: true}",
                "test.yaml:10:10: error: spec.servers[0].tls: TLS settings are not supported: the embedded gateway "
                    + "does not terminate or pass through TLS"
            ),
        ]
    )
    func rejectsTLS(server: String, message: String) {
        let set = Fixture.set(gatewayYAML(server: server))
        #expect(Fixture.messages(set.diagnostics) == [message])
        #expect(set.hasErrors)
    }

    @Test("warns that a TCP server is not served")
    func tcpServer() {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 5432, name: pg, protocol: TCP}\n    hosts: [\"*\"]")
        )
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:8:46: warning: spec.servers[0].port.protocol: TCP servers are not served by the embedded "
                    + "gateway (it serves GRPC, HTTP, HTTP2); this server is ignored"
            ]
        )
        #expect(resources.count == 1)
    }

    @Test("rejects a protocol Istio does not know")
    func unknownProtocol() {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 80, name: http, protocol: HTTP3}\n    hosts: [\"*\"]")
        )
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:8:46: error: spec.servers[0].port.protocol: expected one of GRPC, GRPC-WEB, HTTP, HTTP2, "
                    + "HTTPS, MONGO, TCP, TLS, got \"HTTP3\""
            ]
        )
        #expect(resources.isEmpty)
    }
}
