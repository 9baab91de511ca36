import Foundation
import SerinCore
@testable import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// The TLS settings beyond SIMPLE and MUTUAL with files, end to end with curl: OPTIONAL_MUTUAL, a MUTUAL
/// credential whose CA is in Istio's separate `NAME-cacert` Secret, and `cipherSuites`.
@Suite(
    "Gateway TLS modes", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"), .timeLimit(.minutes(2))
)
struct GatewayTLSModesTests {
    typealias TLS = GatewayTLSTests

    static func secret(_ name: String, type: String = "kubernetes.io/tls", _ data: [String: String]) -> String {
        let fields = data.sorted { $0.key < $1.key }.map { "  \($0.key): \(Data($0.value.utf8).base64EncodedString())" }
        return """

            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name)}
            type: \(type)
            data:
            \(fields.joined(separator: "\n"))
            """
    }

    @Test("OPTIONAL_MUTUAL serves clients without a certificate and with the CA's, and refuses another CA's")
    func optionalMutual() async throws {
        try await TLS.expectClientVerification(mode: "OPTIONAL_MUTUAL", withoutOne: 200)
    }

    @Test("MUTUAL with credentialName verifies clients against the CA in the NAME-cacert Secret, as Istio's gateways do")
    func mutualCredentialWithSeparateCA() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let pem = try await certificates.server("web", hosts: ["web.example.com"]).pem()
        let client = try await certificates.client("client", commonName: "client.example.com")
        let caPEM = try String(contentsOfFile: certificates.ca.certificate, encoding: .utf8)
        let yaml = TLS.gateway(TLS.httpsServer(tls: "{mode: MUTUAL, credentialName: web-credential}"))
            + Self.secret("web-credential", ["tls.crt": pem.certificate, "tls.key": pem.key])
            + Self.secret("web-credential-cacert", type: "Opaque", ["cacert": caPEM])
        try await TLS.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let admitted = try await TLS.https("web.example.com", port: port, ca: ca, ["--cert", client.certificate, "--key", client.key])
            #expect(admitted.status == 200, "\(admitted.stderr)")
            let without = try await TLS.https("web.example.com", port: port, ca: ca)
            #expect(without.status == 0)
            #expect(without.exitCode != 0)
        }
    }

    @Test("on a port with a SIMPLE and a MUTUAL server, a Host naming the MUTUAL server's host on a connection the SIMPLE server's handshake took is answered 421, over HTTP/1 and HTTP/2: no client certificate is skipped")
    func hostCannotCrossToAnotherServersTLS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        _ = try await certificates.server("api", hosts: ["api.example.com"])
        let client = try await certificates.client("client", commonName: "client.example.com")
        let yaml = TLS.gateway(
            TLS.httpsServer(hosts: ["web.example.com"], tls: "{mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key}"),
            TLS.httpsServer(hosts: ["api.example.com"], tls: "{mode: MUTUAL, serverCertificate: api.crt, privateKey: api.key, caCertificates: ca.crt}")
        )
        try await TLS.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let web = try await TLS.https("web.example.com", port: port, ca: ca)
            #expect(web.status == 200, "\(web.stderr)")
            let api = try await TLS.https("api.example.com", port: port, ca: ca, ["--cert", client.certificate, "--key", client.key])
            #expect(api.status == 200, "\(api.stderr)")
            let noCertificate = try await TLS.https("api.example.com", port: port, ca: ca)
            #expect(noCertificate.status == 0 && noCertificate.exitCode != 0, "MUTUAL refuses the handshake without a certificate")
            // The SIMPLE server's handshake, then the MUTUAL server's host.
            for version in ["--http1.1", "--http2"] {
                let crossed = try await TLS.https("web.example.com", port: port, ca: ca, [version, "-H", "Host: api.example.com"])
                #expect(crossed.status == 421, "\(version): \(crossed.status) \(crossed.body)")
                #expect(crossed.body.contains("host \"api.example.com\" is served on port 443 with other TLS settings"), "\(crossed.body)")
            }
        }
    }

    @Test("the upstream server name: sni as written, else the request's host (its authority without port or brackets, lowercased), never an IP address, none without TLS")
    func upstreamServerName() {
        func serverHost(_ authority: String) -> String? { UpstreamCluster.serverHost(RequestAttributes.host(ofAuthority: authority)) }
        #expect(serverHost("API.example.com:8443") == "api.example.com")
        #expect(serverHost("api.example.com") == "api.example.com")
        #expect(serverHost("[fd00::7]:443") == "fd00::7")
        #expect(serverHost("[fd00::7]") == "fd00::7")
        #expect(serverHost("10.0.0.7:80") == "10.0.0.7")
        #expect(serverHost("") == nil)
        let simple = ClientTLS(mode: .simple)
        #expect(UpstreamCluster.serverName(ClientTLS(mode: .simple, sni: "web.internal"), host: "web") == "web.internal")
        #expect(UpstreamCluster.serverName(simple, host: "reviews") == "reviews")
        #expect(UpstreamCluster.serverName(simple, host: "api.example.com") == "api.example.com")
        #expect(UpstreamCluster.serverName(simple, host: "10.0.0.7") == nil)
        #expect(UpstreamCluster.serverName(simple, host: "fd00::7") == nil)
        #expect(UpstreamCluster.serverName(ClientTLS(mode: .disable), host: "reviews") == nil)
    }

    @Test("a certificate's names admit a destination as Envoy matches SANs: DNS case-insensitively with a one-label wildcard, URIs exactly, IP addresses by their bytes, never the common name")
    func certificateNames() throws {
        let host = UpstreamCertificateNames(names: ["API.example.com."], written: false)
        #expect(host.admits([.dns("api.example.com")]))
        #expect(host.admits([.dns("other.example.com"), .dns("*.EXAMPLE.com")]))
        #expect(!host.admits([.dns("example.com")]))
        #expect(!host.admits([.dns("*.com")]))
        #expect(!host.admits([.dns("api.example.com.evil.net")]))
        #expect(!host.admits([.dns("*.api.example.com")]))
        #expect(!UpstreamCertificateNames(names: ["a.b.example.com"], written: false).admits([.dns("*.example.com")]))
        #expect(!UpstreamCertificateNames(names: ["example.com"], written: false).admits([.dns("*.example.com")]))
        // An address names the endpoint only by an IP SAN, byte for byte, however it is written.
        let address = UpstreamCertificateNames(names: ["127.0.0.1"], written: false)
        #expect(address.admits([.ip([127, 0, 0, 1])]))
        #expect(!address.admits([.dns("127.0.0.1"), .ip([127, 0, 0, 2])]))
        let v6 = try #require(UpstreamCertificateNames.address("::1"))
        #expect(UpstreamCertificateNames(names: ["0:0::1"], written: true).admits([.ip(v6)]))
        #expect(UpstreamCertificateNames.text(ofAddress: v6) == "::1")
        // subjectAltNames: any one of them; a URI only as written.
        let written = UpstreamCertificateNames(names: ["web.internal", "spiffe://cluster.local/ns/default/sa/web"], written: true)
        #expect(written.admits([.uri("spiffe://cluster.local/ns/default/sa/web")]))
        #expect(!written.admits([.uri("spiffe://cluster.local/ns/default/sa/other"), .dns("api.internal")]))
        #expect(!written.admits([]))
        let mismatch = UpstreamCertificateMismatch(presented: ["api.internal", "127.0.0.1"], expected: written)
        #expect(
            mismatch.description == "the endpoint's certificate names api.internal, 127.0.0.1, not web.internal or "
                + "spiffe://cluster.local/ns/default/sa/web (the subjectAltNames of its DestinationRule or ServiceEntry)"
        )
    }

    @Test("cipherSuites limits TLS 1.2 to the suites listed: a client offering only another is refused, one offering a listed one is served")
    func cipherSuites() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = TLS.gateway(TLS.httpsServer(tls: """
            {mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key, maxProtocolVersion: TLSV1_2,
                  cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256]}
            """))
        try await TLS.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let listed = try await TLS.https("web.example.com", port: port, ca: ca, ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"])
            #expect(listed.status == 200, "\(listed.stderr)")
            let other = try await TLS.https("web.example.com", port: port, ca: ca, ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"])
            #expect(other.status == 0)
            #expect(other.exitCode != 0)
            // TLS 1.3 is not offered at all above the maximum.
            let modern = try await TLS.https("web.example.com", port: port, ca: ca, ["--tlsv1.3"])
            #expect(modern.status == 0)
        }
    }

    @Test("every cipher suite name the manifests accept, and a group of them, is one the gateway's TLS library takes (an unknown one stopped the process)")
    func everyAcceptedCipherSuiteIsKnown() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let file = { (name: String) in certificates.directory.appendingPathComponent(name).path }
        let names = ServerTLS.knownCipherSuites.sorted()
        for suites in names.map({ [$0] }) + [names, ["[\(names[0])|\(names[1])]"]] {
            let tls = ServerTLS(
                mode: .simple, credential: .files(certificateChain: file("web.crt"), privateKey: file("web.key"), caCertificates: nil),
                cipherSuites: suites
            )
            #expect(throws: Never.self, "\(suites)") { _ = try GatewayTLS.context(for: tls, server: "test") }
        }
    }

    @Test("a DestinationRule's MUTUAL client certificate replaced on disk is presented by new upstream connections within a poll")
    func upstreamClientCertificateReload() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("backend", hosts: ["backend.internal"])
        let trusted = try await certificates.client("trusted-client", commonName: "edge.internal")
        let stranger = try await TestCertificates.make(caName: "Someone Else's CA")
        defer { stranger.remove() }
        let untrusted = try await stranger.client("client", commonName: "edge.internal")
        // The edge starts with a certificate the backend does not trust.
        let clientCertificate = certificates.directory.appendingPathComponent("edge-client.crt").path
        let clientKey = certificates.directory.appendingPathComponent("edge-client.key").path
        try FileManager.default.copyItem(atPath: untrusted.certificate, toPath: clientCertificate)
        try FileManager.default.copyItem(atPath: untrusted.key, toPath: clientKey)
        // The backend: a second gateway that admits only clients with the CA's certificates.
        let front = TLS.gateway(TLS.httpsServer(
            hosts: ["\"*\""], tls: "{mode: MUTUAL, serverCertificate: backend.crt, privateKey: backend.key, caCertificates: ca.crt}"))
        try await TLS.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            let more = TLS.destinationRule(
                "secure-backend",
                tls: "{mode: MUTUAL, caCertificates: ca.crt, clientCertificate: edge-client.crt, privateKey: edge-client.key, sni: backend.internal}"
            ) + SeedManifests.serviceEntry("secure-backend", port: tlsPort, version: "v1").text
            let routes = "      - route: [{destination: {host: secure-backend}}]"
            try await TLS.withEdge(routes: routes, more, certificates: certificates) { gateway, port in
                let refused = try await Curl.get("http://127.0.0.1:\(port)/")
                #expect(refused.status >= 500, "\(refused.status) \(refused.body)")

                let reloads = ReloadLog()
                let watcher = Task { await gateway.watchCertificates(every: .milliseconds(100)) { reloads.add($0) } }
                defer { watcher.cancel() }
                for (from, to) in [(trusted.certificate, clientCertificate), (trusted.key, clientKey)] {
                    try FileManager.default.removeItem(atPath: to)
                    try FileManager.default.copyItem(atPath: from, toPath: to)
                }
                let reloaded = await eventually(.seconds(20)) {
                    reloads.outcomes.contains { if case .reloaded(let files) = $0 { files.contains(clientCertificate) } else { false } }
                }
                #expect(reloaded, "\(reloads.outcomes)")
                let admitted = try await Curl.get("http://127.0.0.1:\(port)/")
                #expect(admitted.status == 200, "\(admitted.status) \(admitted.body)")
                #expect(admitted.body.contains("This is v1"))
            }
        }
    }
}
