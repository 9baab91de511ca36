import Foundation
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
        "refuses what the gateway cannot terminate, each at its field with what it expected",
        arguments: [
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]",
                "test.yaml:8:48: error: spec.servers[0].port.protocol: an HTTPS server needs tls (mode SIMPLE or MUTUAL, "
                    + "with serverCertificate and privateKey or credentialName)"
            ),
            (
                "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: [\"*\"]",
                "test.yaml:8:46: error: spec.servers[0].port.protocol: a TLS server needs tls.mode PASSTHROUGH (the embedded "
                    + "gateway passes TLS through by SNI; to terminate TLS use protocol HTTPS)"
            ),
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: ISTIO_MUTUAL}",
                "test.yaml:10:17: error: spec.servers[0].tls.mode: mode ISTIO_MUTUAL is not supported: it uses the mesh's "
                    + "Istio-issued certificates, which the embedded gateway has none of; use SIMPLE, MUTUAL, OPTIONAL_MUTUAL or "
                    + "PASSTHROUGH"
            ),
            (
                "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: web}",
                "test.yaml:10:17: error: spec.servers[0].tls.mode: a TLS server with mode SIMPLE would terminate TLS and forward "
                    + "plain TCP, which the embedded gateway does not; use mode PASSTHROUGH, or protocol HTTPS to terminate TLS"
            ),
            (
                "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: [\"*\"]\n    tls: {mode: PASSTHRU}",
                "test.yaml:10:17: error: spec.servers[0].tls.mode: expected one of SIMPLE, MUTUAL, OPTIONAL_MUTUAL, PASSTHROUGH, "
                    + "AUTO_PASSTHROUGH, ISTIO_MUTUAL, got \"PASSTHRU\""
            ),
            (
                "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: [\"*\"]\n    tls: {mode: PASSTHROUGH, credentialName: web}",
                "test.yaml:10:10: error: spec.servers[0].tls: credentialName does not apply to mode PASSTHROUGH: the gateway does "
                    + "not terminate TLS, the destination presents its own certificate"
            ),
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n"
                    + "    tls: {mode: MUTUAL, serverCertificate: /etc/hosts, privateKey: /etc/hosts}",
                "test.yaml:10:10: error: spec.servers[0].tls: mode MUTUAL needs caCertificates (or credentialName), missing"
            ),
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n"
                    + "    tls: {credentialName: web, subjectAltNames: [client.example.com]}",
                "test.yaml:10:49: error: spec.servers[0].tls.subjectAltNames is not supported by the embedded gateway: "
                    + "client certificates are verified against caCertificates only"
            ),
            (
                "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: web}",
                "test.yaml:10:10: error: spec.servers[0].tls: credentialName, mode apply to an HTTPS server; this server's "
                    + "protocol is HTTP, where tls takes httpsRedirect only"
            ),
            (
                "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n"
                    + "    tls: {credentialName: web, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2}",
                "test.yaml:10:81: error: spec.servers[0].tls.maxProtocolVersion: expected a version at or above "
                    + "minProtocolVersion TLSV1_3, got TLSV1_2"
            ),
        ]
    )
    func refusesTLS(server: String, message: String) {
        let set = Fixture.set(gatewayYAML(server: server))
        #expect(Fixture.messages(set.errors).first == message)
        #expect(set.hasErrors)
    }

    @Test("reads an HTTPS server's files relative to the manifest's directory, and its versions and ciphers")
    func decodesHTTPS() throws {
        let yaml = gatewayYAML(
            server: """
                  - port: {number: 443, name: https, protocol: HTTPS}
                    hosts: [web.example.com]
                    tls:
                      mode: MUTUAL
                      serverCertificate: certs/web.crt
                      privateKey: /etc/serin/web.key
                      caCertificates: ../ca.crt
                      minProtocolVersion: TLSV1_2
                      maxProtocolVersion: TLSV1_3
                      cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256]
                """
        )
        let (resources, _) = Fixture.decode(yaml, path: "/srv/edge/gateway.yaml")
        guard case .gateway(let gateway) = try #require(resources.first?.resource) else { Issue.record("not a Gateway"); return }
        let server = try #require(gateway.servers.first)
        #expect(server.terminatesTLS)
        #expect(
            server.tls
                == ServerTLS(
                    mode: .mutual,
                    credential: .files(certificateChain: "/srv/edge/certs/web.crt", privateKey: "/etc/serin/web.key", caCertificates: "/srv/edge/../ca.crt"),
                    minProtocolVersion: .tls1_2, maxProtocolVersion: .tls1_3, cipherSuites: ["ECDHE-ECDSA-AES128-GCM-SHA256"]
                )
        )
    }

    @Test("a cipher suite BoringSSL does not know is an error at its entry (it stopped the gateway as the port was set up); groups and IANA names are read")
    func cipherSuiteNames() throws {
        let yaml = gatewayYAML(
            server: """
                  - port: {number: 443, name: https, protocol: HTTPS}
                    hosts: [web.example.com]
                    tls:
                      serverCertificate: /etc/serin/web.crt
                      privateKey: /etc/serin/web.key
                      cipherSuites:
                      - "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"
                      - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                      - NOPE-CIPHER
                      - "[AES128-SHA|TLS_AES_128_GCM_SHA256]"
                """
        )
        let (_, diagnostics) = Fixture.decode(yaml, path: "/srv/edge/gateway.yaml")
        let tail = "; expected names such as ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-CHACHA20-POLY1305, or [A|B] for a group of "
            + "equal preference (TLS 1.3's suites are not chosen here)"
        // (The certificate files do not exist here: those errors are another test's.)
        #expect(
            Fixture.messages(diagnostics).filter { $0.contains("cipherSuites") } == [
                "/srv/edge/gateway.yaml:16:9: error: spec.servers[0].tls.cipherSuites[2]: unknown cipher suite \"NOPE-CIPHER\"" + tail,
                "/srv/edge/gateway.yaml:17:9: error: spec.servers[0].tls.cipherSuites[3]: unknown cipher suite \"TLS_AES_128_GCM_SHA256\"" + tail,
            ]
        )
    }

    @Test("minProtocolVersion below TLSV1_2 without cipherSuites is warned at the field, with Istio's words: the default suites are TLS 1.2's; with suites written, no warning")
    func oldVersionWithoutCiphers() {
        let server = "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {credentialName: web, minProtocolVersion: TLSV1_1"
        let warned = Fixture.messages(Fixture.set(gatewayYAML(server: server + "}")).warnings).filter { $0.contains("minProtocolVersion") }
        #expect(warned == [
            "test.yaml:10:52: warning: spec.servers[0].tls.minProtocolVersion: TLS version below TLSV1_2 require setting compatible ciphers as by "
                + "default they no longer include compatible ciphers: a TLSV1_1 client finds no suite it can use; add cipherSuites such as ECDHE-RSA-AES128-SHA",
        ])
        let written = Fixture.set(gatewayYAML(server: server + ", cipherSuites: [ECDHE-RSA-AES128-SHA]}"))
        #expect(!Fixture.messages(written.warnings).contains { $0.contains("minProtocolVersion") })
    }

    @Test("a certificate file that does not exist is an error naming the path as given and as resolved")
    func missingFile() {
        let yaml = gatewayYAML(
            server: """
                  - port: {number: 443, name: https, protocol: HTTPS}
                    hosts: [web.example.com]
                    tls: {serverCertificate: /no/such/web.crt, privateKey: web.key}
                """
        )
        let (_, diagnostics) = Fixture.decode(yaml, path: "/srv/edge/gateway.yaml")
        #expect(
            Fixture.messages(diagnostics) == [
                "/srv/edge/gateway.yaml:10:30: error: spec.servers[0].tls.serverCertificate: cannot read /no/such/web.crt: no such file",
                "/srv/edge/gateway.yaml:10:60: error: spec.servers[0].tls.privateKey: cannot read web.key "
                    + "(/srv/edge/web.key, relative to the manifest's directory): no such file",
            ]
        )
    }

    @Test("an HTTP server's httpsRedirect is read")
    func httpsRedirect() throws {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    tls: {httpsRedirect: true}")
        )
        #expect(diagnostics.isEmpty)
        guard case .gateway(let gateway) = try #require(resources.first?.resource) else { Issue.record("not a Gateway"); return }
        #expect(gateway.servers.first?.httpsRedirect == true)
        #expect(gateway.servers.first?.tls == nil)
    }

    @Test("an HTTPS server's httpsRedirect is a warning and ignored: its requests are https already, and a 301 to the same URL would loop")
    func httpsRedirectOnHTTPSIsIgnored() throws {
        // The files need only be there: decoding reads them only when the gateway loads them.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-redirect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["web.crt", "web.key"] { try Data("pem\n".utf8).write(to: directory.appendingPathComponent(name)) }
        let (resources, diagnostics) = Fixture.decode(gatewayYAML(server: """
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key, httpsRedirect: true}
            """), path: directory.appendingPathComponent("gateway.yaml").path)
        #expect(Fixture.messages(diagnostics).count == 1, "\(Fixture.messages(diagnostics))")
        #expect(Fixture.messages(diagnostics).first?.contains(
            "warning: spec.servers[0].tls.httpsRedirect redirects an HTTP server's requests to https; on this HTTPS server they are https already, so it is ignored") == true,
            "\(Fixture.messages(diagnostics))")
        guard case .gateway(let gateway) = try #require(resources.first?.resource) else { Issue.record("not a Gateway"); return }
        #expect(gateway.servers.first?.httpsRedirect == false)
        #expect(gateway.servers.first?.tls != nil)
    }

    @Test("a server host with a port or a scheme is an error, as Istio refuses it: no request names such a host", arguments: [
        "web.example.com:443", "https://web.example.com", "a/b/web.example.com",
    ])
    func hostWithPortOrScheme(host: String) {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"\(host)\"]"))
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:9:12: error: spec.servers[0].hosts[0]: expected [NAMESPACE/]HOST (web.example.com, *.example.com, shop/web.example.com), "
                + "got \"\(host)\": the port is the server's port.number, and a host has no scheme",
        ])
        #expect(resources.isEmpty)
    }

    @Test("decodes a TCP server, which forwards plain TCP by port")
    func tcpServer() throws {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 31400, name: tcp, protocol: TCP}\n    hosts: [\"*\"]")
        )
        #expect(Fixture.messages(diagnostics).isEmpty, "\(Fixture.messages(diagnostics))")
        guard case .gateway(let gateway) = try #require(resources.first).resource else {
            Issue.record("not a gateway")
            return
        }
        #expect(gateway.servers.map(\.forwardsTCP) == [true])
    }

    @Test(
        "refuses a server for a protocol Istio parses inside TCP, saying to declare it TCP",
        arguments: ["MONGO", "MYSQL", "REDIS"]
    )
    func protocolOverTCP(name: String) {
        let (_, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 27017, name: db, protocol: \(name)}\n    hosts: [\"*\"]")
        )
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:8:47: error: spec.servers[0].port.protocol: \(name) servers are not served by the embedded gateway: it "
                    + "reads no \(name) messages; protocol TCP forwards the same connections untouched, by port, through "
                    + "VirtualService tcp routes"
            ]
        )
    }

    @Test("rejects a protocol Istio does not know")
    func unknownProtocol() {
        let (resources, diagnostics) = Fixture.decode(
            gatewayYAML(server: "  - port: {number: 80, name: http, protocol: HTTP3}\n    hosts: [\"*\"]")
        )
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:8:46: error: spec.servers[0].port.protocol: expected one of GRPC, GRPC-WEB, HTTP, HTTP2, "
                    + "HTTPS, MONGO, MYSQL, REDIS, TCP, TLS, got \"HTTP3\""
            ]
        )
        #expect(resources.isEmpty)
    }
}
