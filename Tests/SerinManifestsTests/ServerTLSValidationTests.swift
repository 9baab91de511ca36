import SerinCore
import SerinManifests
import Testing

/// An HTTPS server's `credentialName` is looked up among the Secrets given with `-f`, as Istio's ingress gateway
/// looks it up in its namespace; what cannot be found is an error at the field.
@Suite("Server TLS validation")
struct ServerTLSValidationTests {
    private func gateway(mode: String = "SIMPLE", credential: String = "web-credential", extraServer: String = "") -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata: {name: web-gateway, namespace: edge}
        spec:
          servers:
          - port: {number: 443, name: https, protocol: HTTPS}
            hosts: [web.example.com]
            tls: {mode: \(mode), credentialName: \(credential)}
        \(extraServer)
        """
    }

    private func secret(_ name: String, type: String = "kubernetes.io/tls", _ data: [String: String]) -> String {
        """

        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: edge}
        type: \(type)
        stringData:
        \(data.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n"))
        """
    }

    private func material(_ set: ManifestSet) -> TLSMaterial? {
        guard case .secret(_, let material) = set.config.gateways.first?.servers.first?.tls?.credential else { return nil }
        return material
    }

    @Test("a kubernetes.io/tls Secret in the Gateway's namespace gives the certificate and key; its description shows no bytes")
    func resolvesSecret() throws {
        let set = Fixture.set(gateway() + secret("web-credential", ["tls.crt": "CERT-PEM", "tls.key": "KEY-PEM"]))
        #expect(set.errors.isEmpty, "\(set.errors)")
        let found = try #require(material(set))
        #expect(found.certificateChain == Array("CERT-PEM".utf8))
        #expect(found.privateKey == Array("KEY-PEM".utf8))
        #expect(found.caCertificates == nil)
        #expect("\(found)" == "TLS material from Secret edge/web-credential")
        #expect(!String(reflecting: set.config.gateways).contains("KEY-PEM"))
    }

    @Test("MUTUAL takes the CA from ca.crt, or from the NAME-cacert Secret as Istio documents")
    func mutualCA() throws {
        let inOne = Fixture.set(gateway(mode: "MUTUAL") + secret("web-credential", ["tls.crt": "C", "tls.key": "K", "ca.crt": "CA1"]))
        #expect(inOne.errors.isEmpty, "\(inOne.errors)")
        #expect(material(inOne)?.caCertificates == Array("CA1".utf8))
        let split = Fixture.set(
            gateway(mode: "MUTUAL") + secret("web-credential", ["tls.crt": "C", "tls.key": "K"])
                + secret("web-credential-cacert", type: "Opaque", ["cacert": "CA2"])
        )
        #expect(split.errors.isEmpty, "\(split.errors)")
        #expect(material(split)?.caCertificates == Array("CA2".utf8))
    }

    @Test(
        "what a credentialName lacks is an error at the field that names the Secret and the keys, never the values",
        arguments: [
            (
                "",
                "test.yaml:8:41: error: spec.servers[0].tls.credentialName: Secret edge/web-credential does not exist "
                    + "(give it with -f beside the Gateway)"
            ),
            (
                "\n" + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-credential, namespace: istio-system}\nstringData: {tls.crt: C, tls.key: K}",
                "test.yaml:8:41: error: spec.servers[0].tls.credentialName: Secret edge/web-credential does not exist: a Secret "
                    + "web-credential is in namespace istio-system, but credentialName is read from the Gateway's own namespace, edge; "
                    + "put the Secret there"
            ),
            (
                "\n" + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-credential, namespace: edge}\nstringData: {tls.crt: SECRET-C}",
                "test.yaml:8:41: error: spec.servers[0].tls.credentialName: Secret edge/web-credential needs tls.crt and "
                    + "tls.key (or cert and key), has tls.crt"
            ),
        ]
    )
    func missingCredential(secretYAML: String, message: String) {
        let set = Fixture.set(gateway() + secretYAML)
        #expect(Fixture.messages(set.errors) == [message])
        #expect(!Fixture.messages(set.diagnostics).joined().contains("SECRET-C"))
    }

    @Test("MUTUAL with no CA anywhere is an error naming both places it looked")
    func mutualWithoutCA() {
        let set = Fixture.set(gateway(mode: "MUTUAL") + secret("web-credential", ["tls.crt": "C", "tls.key": "K"]))
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:8:41: error: spec.servers[0].tls.credentialName: mode MUTUAL needs CA certificates: Secret "
                    + "edge/web-credential has no ca.crt and Secret edge/web-credential-cacert does not exist"
            ]
        )
    }

    @Test("an HTTPS server refused for its mode (ISTIO_MUTUAL) is said once, at its mode, not again as a plaintext server sharing the port")
    func refusedModeSaidOnce() {
        let set = Fixture.set(
            gateway(mode: "ISTIO_MUTUAL", extraServer: """
                  - port: {number: 443, name: https-two, protocol: HTTPS}
                    hosts: [two.example.com]
                    tls: {mode: SIMPLE, credentialName: web-credential}
                """)
                + secret("web-credential", ["tls.crt": "C", "tls.key": "K"])
        )
        let messages = Fixture.messages(set.errors)
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.first?.contains("mode ISTIO_MUTUAL is not supported") == true, "\(messages)")
    }

    @Test("one port is HTTPS or plaintext, not both")
    func mixedPort() {
        let set = Fixture.set(
            gateway(extraServer: "  - port: {number: 443, name: http, protocol: HTTP}\n    hosts: [other.example.com]")
                + secret("web-credential", ["tls.crt": "C", "tls.key": "K"])
        )
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:9:47: error: spec.servers[1].port.protocol: port 443 is served by Gateway edge/web-gateway "
                    + "spec.servers[0] (HTTPS) already, which terminates TLS; this server serves plaintext. A port serves TLS "
                    + "or plaintext, so plaintext servers and HTTPS or PASSTHROUGH servers need different ports"
            ]
        )
    }

    @Test("a host two HTTPS servers on one port both list is warned of at the second: a ClientHello naming it always gets the first's certificate")
    func hostOnTwoServers() {
        let second = """
              - port: {number: 443, name: https-2, protocol: HTTPS}
                hosts: [api.example.com, WEB.example.com]
                tls: {mode: SIMPLE, credentialName: web-credential}
            """
        let set = Fixture.set(gateway(extraServer: second) + secret("web-credential", ["tls.crt": "C", "tls.key": "K"]))
        #expect(set.errors.isEmpty, "\(set.errors)")
        let warnings = Fixture.messages(set.warnings)
        #expect(warnings == [
            "test.yaml:10:30: warning: spec.servers[1].hosts[1]: web.example.com is a host of Gateway edge/web-gateway spec.servers[0] (HTTPS) "
                + "on port 443 too, whose certificate and client check a ClientHello naming it gets: this server's are never used for it",
        ], "\(warnings)")
    }

    @Test("a credentialName whose Secret is in the files but has errors is said to be unread there, not missing")
    func unreadSecret() {
        let broken = """

            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: web-credential, namespace: edge}
            type: kubernetes.io/tls
            data: {tls.crt: "not base64!", tls.key: S0VZ}
            """
        let set = Fixture.set(gateway() + broken)
        let messages = Fixture.messages(set.errors)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.contains { $0.contains("spec.servers[0].tls.credentialName: Secret edge/web-credential is not read: it has errors (the first at test.yaml:") }, "\(messages)")
        #expect(!messages.contains { $0.contains("does not exist") }, "\(messages)")
    }

    @Test("a port's servers share the first one's protocol, as Istio merges them: a GRPC-WEB server after an HTTP one is warned translating nothing, and the route table translates gRPC-Web on a port only when its first server is GRPC-WEB")
    func grpcWebFollowsThePortsFirstServer() throws {
        func gateway(_ first: String, _ second: String) -> String {
            """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              servers:
              - port: {number: 80, name: one, protocol: \(first)}
                hosts: [a.example]
              - port: {number: 80, name: two, protocol: \(second)}
                hosts: [b.example]
              - port: {number: 81, name: three, protocol: GRPC-WEB}
                hosts: [c.example]
            """
        }
        let late = Fixture.set(gateway("HTTP", "GRPC-WEB"))
        #expect(late.errors.isEmpty, "\(late.errors)")
        let warning = try #require(late.warnings.first { $0.message.contains("share the first one's protocol") }, "\(late.warnings)")
        #expect(warning.message.contains("spec.servers[1].port.protocol: port 80 is served by Gateway default/gw spec.servers[0] (HTTP) first"))
        #expect(warning.message.hasSuffix("the port translates no gRPC-Web, this server's neither"), "\(warning.message)")
        let lateTable = RouteTable(compiling: late.config)
        #expect(lateTable.listeners[80]?.translatesGRPCWeb == false)
        #expect(lateTable.listeners[81]?.translatesGRPCWeb == true)
        #expect(lateTable.translatesGRPCWeb)

        let early = Fixture.set(gateway("GRPC-WEB", "HTTP"))
        #expect(early.warnings.contains { $0.message.hasSuffix("the port translates gRPC-Web for this server's hosts too") }, "\(early.warnings)")
        #expect(RouteTable(compiling: early.config).listeners[80]?.translatesGRPCWeb == true)
        #expect(!Fixture.set(gateway("HTTP", "HTTP2")).warnings.contains { $0.message.contains("share the first one's protocol") })
    }

}
