import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Synchronization
import Testing

/// HTTPS on the gateway, end to end: certificates made by openssl, manifests written beside them, curl as the
/// client on 127.0.0.1 checking certificates and sending SNI as a user's client does.
@Suite(
    "Gateway TLS", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"), .timeLimit(.minutes(2))
)
struct GatewayTLSTests {
    /// A VirtualService sending every host on `web-gateway` to `web-v1-service`, which lives on 127.0.0.1:`backend`.
    static func world(backend: Int) -> String {
        """
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: web}
        spec: {hosts: ["*"], gateways: [web-gateway], http: [{route: [{destination: {host: web-v1-service}}]}]}
        ---

        """ + SeedManifests.serviceEntry("web-v1-service", port: backend, version: "v1").text
    }

    /// Writes `gateway` (a Gateway named web-gateway, and anything else) plus the world to `gateway.yaml` in the
    /// certificates' directory, loads it as `serin` would with `-f`, and serves it on ephemeral ports.
    static func withGateway(
        _ gateway: String, certificates: TestCertificates, limits: GatewayLimits = .default,
        _ body: (GatewayServer) async throws -> Void
    ) async throws {
        try await ServedGateway.serve({ backend in
            let file = certificates.directory.appendingPathComponent("gateway.yaml").path
            try (gateway + "\n" + world(backend: backend)).write(toFile: file, atomically: true, encoding: .utf8)
            return ManifestLoader.load(paths: [file], recursive: false).sources
        }, limits: limits, body)
    }

    /// curl to `https://host:port/path` on 127.0.0.1, trusting `ca`.
    static func https(
        _ host: String, port: Int, path: String = "/", ca: String, _ arguments: [String] = []
    ) async throws -> Curl.Outcome {
        try await Curl.get(
            "https://\(host):\(port)\(path)", ["--cacert", ca, "--resolve", "\(host):\(port):127.0.0.1"] + arguments
        )
    }

    static func httpsServer(hosts: [String] = ["web.example.com"], port: Int = 443, tls: String) -> String {
        """
          - port: {number: \(port), name: https-\(port)-\(hosts[0].filter { $0.isLetter || $0 == "." }), protocol: HTTPS}
            hosts: [\(hosts.joined(separator: ", "))]
            tls: \(tls)
        """
    }

    static func gateway(_ servers: String...) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata: {name: web-gateway}
        spec:
          servers:
        \(servers.joined(separator: "\n"))
        """
    }

    @Test("serves HTTPS with certificate files named relative to the manifest, and tells the backend it was https")
    func simpleWithFiles() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(Self.httpsServer(tls: "{mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key}"))
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let page = try await Self.https("web.example.com", port: port, ca: certificates.ca.certificate)
            #expect(page.status == 200, "\(page.stderr)")
            #expect(page.body.contains("This is v1"))
            let echo = try await Self.https("web.example.com", port: port, path: "/echo", ca: certificates.ca.certificate)
            #expect(echo.body.contains("x-forwarded-proto: https"))
            let plaintext = try await Curl.get("http://127.0.0.1:\(port)/")
            #expect(plaintext.status != 200)
        }
    }

    @Test("serves the certificate of a kubernetes.io/tls Secret named by credentialName")
    func credentialName() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let pem = try await certificates.server("web", hosts: ["web.example.com"]).pem()
        let yaml = Self.gateway(Self.httpsServer(tls: "{mode: SIMPLE, credentialName: web-credential}")) + """

            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: web-credential}
            type: kubernetes.io/tls
            data:
              tls.crt: \(Data(pem.certificate.utf8).base64EncodedString())
              tls.key: \(Data(pem.key.utf8).base64EncodedString())
            """
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let page = try await Self.https("web.example.com", port: port, ca: certificates.ca.certificate)
            #expect(page.status == 200, "\(page.stderr)")
        }
    }

    /// Serves `mode` (MUTUAL or OPTIONAL_MUTUAL) for web.example.com and checks curl with the CA's client
    /// certificate is admitted, with another CA's is refused, and without one gets `withoutOne` (nil: refused).
    static func expectClientVerification(mode: String, withoutOne: Int?) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let client = try await certificates.client("client", commonName: "client.example.com")
        let stranger = try await TestCertificates.make(caName: "Someone Else's CA")
        defer { stranger.remove() }
        let strangerClient = try await stranger.client("client", commonName: "client.example.com")
        let yaml = gateway(httpsServer(tls: "{mode: \(mode), serverCertificate: web.crt, privateKey: web.key, caCertificates: ca.crt}"))
        try await withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let admitted = try await https("web.example.com", port: port, ca: ca, ["--cert", client.certificate, "--key", client.key])
            #expect(admitted.status == 200, "\(admitted.stderr)")
            // The backend learns the verified certificate from the gateway, never from the client (SANITIZE_SET).
            let forged = ["-H", "x-forwarded-client-cert: By=spiffe://evil;Subject=\"CN=admin\""]
            let echoed = try await https(
                "web.example.com", port: port, path: "/echo", ca: ca, ["--cert", client.certificate, "--key", client.key] + forged
            )
            let fingerprint = try await SerinProcess.run(
                ["x509", "-in", client.certificate, "-noout", "-fingerprint", "-sha256"], program: URL(fileURLWithPath: "/usr/bin/openssl")
            ).stdout
            let hash = (fingerprint.split(separator: "=").last ?? "").filter { $0.isHexDigit }.lowercased()
            #expect(hash.count == 64, "\(fingerprint)")
            #expect(echoed.body.contains("x-forwarded-client-cert: Hash=\(hash);Subject=\"CN=client.example.com\"\n"), "\(echoed.body)")
            #expect(!echoed.body.contains("evil"), "\(echoed.body)")
            let without = try await https("web.example.com", port: port, ca: ca)
            #expect(without.status == (withoutOne ?? 0), "\(without.stderr)")
            if withoutOne != nil {
                let anonymous = try await https("web.example.com", port: port, path: "/echo", ca: ca, forged)
                #expect(anonymous.status == 200 && !anonymous.body.contains("x-forwarded-client-cert"), "\(anonymous.body)")
            }
            let foreign = try await https(
                "web.example.com", port: port, ca: ca, ["--cert", strangerClient.certificate, "--key", strangerClient.key]
            )
            #expect(foreign.status == 0)
            #expect(foreign.exitCode != 0)
            // Plain HTTP to the HTTPS port fails its handshake too; each refused handshake is counted.
            let plain = try await Curl.get("http://127.0.0.1:\(port)/")
            #expect(plain.status == 0)
            let refused = withoutOne == nil ? 3 : 2
            #expect(await eventually(.seconds(10)) { gateway.gatewayHealth.counts.tlsHandshakeFailures == refused },
                "\(gateway.gatewayHealth.counts)")
            #expect(GatewayAdmin.metricsText(gateway).contains("serin_gateway_downstream_tls_handshake_failures_total \(refused)\n"))
        }
    }

    @Test("MUTUAL admits a client certificate the CA signed and refuses none or another CA's")
    func mutual() async throws {
        try await Self.expectClientVerification(mode: "MUTUAL", withoutOne: nil)
    }

    @Test("several HTTPS servers on one port: the ClientHello's server name picks each one's certificate")
    func sni() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("a", hosts: ["a.example.com"])
        let b = try await certificates.server("b", hosts: ["b.example.com"]).pem()
        let yaml = Self.gateway(
            Self.httpsServer(hosts: ["a.example.com"], tls: "{serverCertificate: a.crt, privateKey: a.key}"),
            Self.httpsServer(hosts: ["b.example.com"], tls: "{credentialName: b-credential}")
        ) + """

            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: b-credential}
            type: kubernetes.io/tls
            stringData:
              tls.crt: |
            \(b.certificate.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
              tls.key: |
            \(b.key.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            // curl checks the certificate's name against the host: a wrong certificate fails the request.
            for host in ["a.example.com", "b.example.com"] {
                let page = try await Self.https(host, port: port, ca: ca, ["-v"])
                #expect(page.status == 200, "\(host): \(page.stderr)")
                #expect(page.stderr.contains("subject: CN=\(host)"), "\(page.stderr)")
            }
            // A name no server has: the first server's certificate, which the client then refuses or not itself.
            let other = try await Self.https("c.example.com", port: port, ca: ca, ["-v", "--insecure"])
            #expect(other.stderr.contains("subject: CN=a.example.com"), "\(other.stderr)")
        }
    }

    @Test("minProtocolVersion TLSV1_3 refuses a TLS 1.2 client and serves a TLS 1.3 one")
    func minimumVersion() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(
            Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key, minProtocolVersion: TLSV1_3}")
        )
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let ca = certificates.ca.certificate
            let old = try await Self.https("web.example.com", port: port, ca: ca, ["--tlsv1.2", "--tls-max", "1.2"])
            #expect(old.status == 0)
            #expect(old.exitCode != 0)
            let current = try await Self.https("web.example.com", port: port, ca: ca, ["--tlsv1.3"])
            #expect(current.status == 200, "\(current.stderr)")
        }
    }

    /// The protocol openssl's client negotiated with `port` offering only `version` (`-tls1_1`, `-tls1_2`) and the
    /// suites `cipher` names (default: every one; OpenSSL 3 takes TLS 1.1 only at security level 0); nil when the
    /// handshake failed.
    static func negotiated(_ version: String, port: Int, cipher: String = "DEFAULT@SECLEVEL=0") async throws -> String? {
        let result = try await SerinProcess.run(
            ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "web.example.com", version, "-cipher", cipher],
            program: URL(fileURLWithPath: "/usr/bin/openssl"), timeout: .seconds(20)
        )
        let line = result.stdout.split(separator: "\n").first { $0.contains("Protocol") && $0.contains("TLSv") }
        guard result.status == 0, let line else { return nil }
        return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test(
        "without cipherSuites a server offers Envoy's default suites, forward-secret AEAD only: a TLS 1.2 client offering only CBC with SHA-1 is refused, one offering GCM served; minProtocolVersion TLSV1_0 alone still serves no TLS 1.0 client, as in Envoy"
    )
    func defaultCipherSuites() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key, minProtocolVersion: TLSV1_0}"))
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            #expect(try await Self.negotiated("-tls1_2", port: port, cipher: "ECDHE-ECDSA-AES128-SHA") == nil)
            #expect(try await Self.negotiated("-tls1_2", port: port, cipher: "ECDHE-ECDSA-AES256-SHA") == nil)
            #expect(try await Self.negotiated("-tls1_2", port: port, cipher: "ECDHE-ECDSA-AES128-GCM-SHA256") == "TLSv1.2")
            #expect(try await Self.negotiated("-tls1", port: port) == nil)
        }
    }

    @Test("without minProtocolVersion, or with TLS_AUTO, the minimum is TLS 1.2 as Envoy's: a TLS 1.1 client is refused; TLSV1_1 written with suites it can use takes it", arguments: [
        ("", "TLSv1.2"), (", minProtocolVersion: TLS_AUTO", "TLSv1.2"), (", minProtocolVersion: TLSV1_1, cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES128-SHA]", "TLSv1.1"),
    ])
    func defaultMinimumVersion(field: String, lowest: String) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key\(field)}"))
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let old = try await Self.negotiated("-tls1_1", port: port)
            #expect(old == (lowest == "TLSv1.1" ? "TLSv1.1" : nil))
            #expect(try await Self.negotiated("-tls1_2", port: port) == "TLSv1.2")
        }
    }

    @Test("an HTTP server with httpsRedirect answers 301 to the https URL of the same host and path")
    func httpsRedirect() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(
            """
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: [web.example.com]
                tls: {httpsRedirect: true}
            """,
            Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key}")
        )
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let redirect = try await Curl.get(
                "http://web.example.com:\(port)/shop?item=1", ["--resolve", "web.example.com:\(port):127.0.0.1"]
            )
            #expect(redirect.status == 301)
            #expect(redirect.header("location") == "https://web.example.com/shop?item=1")
        }
    }

    @Test("a replaced certificate file serves new handshakes within a poll while an open connection keeps its own")
    func reload() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let first = try await certificates.server("web", hosts: ["web.example.com"])
        let next = try await TestCertificates.make(caName: "Next CA")
        defer { next.remove() }
        let replacement = try await next.server("web", hosts: ["web.example.com"])
        let yaml = Self.gateway(Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key}"))
        try await Self.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let reloads = ReloadLog()
            let watcher = Task { await gateway.watchCertificates(every: .milliseconds(100)) { reloads.add($0) } }
            defer { watcher.cancel() }
            // Two requests 5 s apart on one keep-alive connection (num_connects 0 on the second: no new handshake).
            async let kept = SerinProcess.run(
                [
                    "-sS", "--rate", "12/m", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                    "--cacert", certificates.ca.certificate, "--resolve", "web.example.com:\(port):127.0.0.1",
                    "https://web.example.com:\(port)/", "https://web.example.com:\(port)/",
                ],
                program: URL(fileURLWithPath: Curl.path)
            )
            #expect(await eventually(.seconds(20)) { gateway.openConnectionCount > 0 }, "curl never connected")
            try await Task.sleep(for: .milliseconds(500))
            for (from, to) in [(replacement.certificate, first.certificate), (replacement.key, first.key)] {
                try FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
            let reloaded = await eventually(.seconds(20)) { reloads.outcomes.contains { if case .reloaded = $0 { true } else { false } } }
            #expect(reloaded, "\(reloads.outcomes)")
            let fresh = try await Self.https("web.example.com", port: port, ca: next.ca.certificate)
            #expect(fresh.status == 200, "\(fresh.stderr)")
            let stale = try await Self.https("web.example.com", port: port, ca: certificates.ca.certificate)
            #expect(stale.status == 0)
            let transfers = try await kept.stdout.split(separator: "\n")
            #expect(transfers == ["200 1", "200 0"], "\(transfers)")
        }
    }

    @Test("a key that does not match its certificate stops the install with the server named, and nothing listens; serin validate says so first")
    func mismatchedKey() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        _ = try await certificates.server("other", hosts: ["other.example.com"])
        let file = certificates.directory.appendingPathComponent("gateway.yaml").path
        try (Self.gateway(Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: other.key}")) + "\n" + Self.world(backend: 9))
            .write(toFile: file, atomically: true, encoding: .utf8)
        let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        await #expect {
            try await gateway.install(RouteTable(compiling: set.config))
        } throws: { error in
            // Both files named: the key loads, it is just not the certificate's.
            let directory = certificates.directory.path
            return "\(error)" == "Gateway default/web-gateway port 443 (hosts web.example.com): the private key \(directory)/other.key "
                + "does not belong to the certificate \(directory)/web.crt"
        }
        #expect(gateway.boundPorts.isEmpty)
        await gateway.shutdown()
        // serin validate says it too, before anything starts: the manifests alone look valid.
        let validated = try await SerinProcess.run(["validate", file])
        #expect(validated.status == 1, "\(validated.stdout)")
        // At the server's tls, file:line:column, as every other error is.
        #expect(validated.stderr.contains("\(file):8:10: error: Gateway default/web-gateway port 443 (hosts web.example.com): the private key "
            + "\(certificates.directory.path)/other.key does not belong to the certificate"), "\(validated.stderr)")
        #expect(validated.stdout.contains("1 error"), "\(validated.stdout)")
    }

    @Test("a server certificate past its end, or before its start, is warned of with the server, the file and the date: clients would refuse every handshake")
    func certificateDates() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let file = certificates.directory.appendingPathComponent("gateway.yaml").path
        try (Self.gateway(Self.httpsServer(tls: "{serverCertificate: web.crt, privateKey: web.key}")) + "\n" + Self.world(backend: 9))
            .write(toFile: file, atomically: true, encoding: .utf8)
        let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
        let table = RouteTable(compiling: set.config)
        #expect(GatewayTLS.certificateDateWarnings(in: table).isEmpty)
        let server = "Gateway default/web-gateway port 443 (hosts web.example.com): the certificate \(certificates.directory.path)/web.crt"
        let later = GatewayTLS.certificateDateWarnings(in: table, now: Date().addingTimeInterval(100 * 365 * 86_400))
        #expect(later.count == 1 && later[0].hasPrefix(server + " expired on ") && later[0].hasSuffix(" UTC: clients refuse it"), "\(later)")
        let earlier = GatewayTLS.certificateDateWarnings(in: table, now: Date(timeIntervalSince1970: 0))
        #expect(earlier.count == 1 && earlier[0].hasPrefix(server + " is not valid until "), "\(earlier)")
    }

    @Test("a DestinationRule's client key that is not its certificate's, or CA certificates that are not PEM, stop the install with the cluster and files named, and serin validate says so first", arguments: [
        ("{mode: MUTUAL, clientCertificate: web.crt, privateKey: other.key, caCertificates: ca.crt}",
         "DestinationRule tls for outbound|80||web-v1-service: the privateKey DIR/other.key does not belong to the clientCertificate DIR/web.crt"),
        ("{mode: SIMPLE, caCertificates: gateway.yaml}",
         "DestinationRule tls for outbound|80||web-v1-service: cannot read caCertificates DIR/gateway.yaml: not a PEM certificate (-----BEGIN CERTIFICATE-----)"),
    ])
    func unusableClientTLS(tls: String, message: String) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        _ = try await certificates.server("other", hosts: ["other.example.com"])
        let file = certificates.directory.appendingPathComponent("gateway.yaml").path
        let http = "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]"
        try (Self.gateway(http) + "\n" + Self.world(backend: 9) + "\n---\n" + Self.destinationRule("web-v1-service", tls: tls))
            .write(toFile: file, atomically: true, encoding: .utf8)
        let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let expected = message.replacingOccurrences(of: "DIR", with: certificates.directory.path)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        await #expect {
            try await gateway.install(RouteTable(compiling: set.config))
        } throws: { error in
            "\(error)" == expected
        }
        #expect(gateway.boundPorts.isEmpty)
        await gateway.shutdown()
        let validated = try await SerinProcess.run(["validate", file])
        #expect(validated.status == 1, "\(validated.stdout)")
        #expect(validated.stderr.contains("error: " + expected), "\(validated.stderr)")
    }

    @Test("a certificate or key that cannot be used says what the file is instead, never the TLS library's case name", arguments: [
        ("{serverCertificate: web.key, privateKey: web.crt}", "cannot read serverCertificate DIR/web.key: it holds a private key, expected a PEM certificate (-----BEGIN CERTIFICATE-----): are the two files swapped?"),
        ("{serverCertificate: web.crt, privateKey: web.crt}", "cannot read privateKey DIR/web.crt: it holds a certificate, expected a PEM private key (-----BEGIN PRIVATE KEY-----): are the two files swapped?"),
        ("{serverCertificate: gateway.yaml, privateKey: web.key}", "cannot read serverCertificate DIR/gateway.yaml: not a PEM certificate (-----BEGIN CERTIFICATE-----)"),
    ])
    func unusableFilesInWords(tls: String, message: String) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let file = certificates.directory.appendingPathComponent("gateway.yaml").path
        try (Self.gateway(Self.httpsServer(tls: tls)) + "\n" + Self.world(backend: 9)).write(toFile: file, atomically: true, encoding: .utf8)
        let validated = try await SerinProcess.run(["validate", file])
        #expect(validated.status == 1, "\(validated.stdout)")
        let expected = "error: Gateway default/web-gateway port 443 (hosts web.example.com): "
            + message.replacingOccurrences(of: "DIR", with: certificates.directory.path)
        #expect(validated.stderr.contains(expected), "\(validated.stderr)")
        #expect(!validated.stderr.contains("failedToLoad"), "\(validated.stderr)")
    }

    /// A DestinationRule for `host` whose traffic policy is `tls` (YAML flow mapping), with its document separator.
    static func destinationRule(_ host: String, tls: String) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata: {name: \(host)}
        spec: {host: \(host), trafficPolicy: {tls: \(tls)}}
        ---

        """
    }

    /// An HTTP gateway `edge` on port 80 for every host, its VirtualService's `http` list `routes` (YAML, indented
    /// as list items under `http:`), and `more` (DestinationRules, ServiceEntries), written beside the certificates
    /// so relative paths resolve there; `body` gets the gateway and its bound port.
    static func withEdge(
        routes: String, _ more: String, certificates: TestCertificates, _ body: (GatewayServer, Int) async throws -> Void
    ) async throws {
        let edge = """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata: {name: edge}
            spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
            ---
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: edge}
            spec:
              hosts: ["*"]
              gateways: [edge]
              http:
            \(routes)
            ---

            """ + more
        let file = certificates.directory.appendingPathComponent("edge.yaml").path
        try edge.write(toFile: file, atomically: true, encoding: .utf8)
        let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            try await body(gateway, try #require(gateway.boundPort(forDeclared: 80)))
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
    }

    @Test("a DestinationRule's tls SIMPLE reaches an HTTPS endpoint it verifies against caCertificates, for routes and mirrors alike; plain HTTP to it fails; one it cannot verify is 503 UF saying why, without the TLS library's internals")
    func upstreamTLS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("backend", hosts: ["backend.internal"])
        let stranger = try await TestCertificates.make(caName: "Someone Else's CA")
        defer { stranger.remove() }
        try FileManager.default.copyItem(
            atPath: stranger.ca.certificate, toPath: certificates.directory.appendingPathComponent("stranger-ca.crt").path)
        // An HTTPS endpoint: a second gateway terminating TLS in front of the v1 demo app.
        let front = Self.gateway(Self.httpsServer(hosts: ["\"*\""], tls: "{serverCertificate: backend.crt, privateKey: backend.key}"))
        try await Self.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            let tls = "{mode: SIMPLE, caCertificates: ca.crt, sni: backend.internal}"
            let more = Self.destinationRule("secure-backend", tls: tls) + Self.destinationRule("mirror-backend", tls: tls)
                + Self.destinationRule("untrusted-backend", tls: "{mode: SIMPLE, caCertificates: stranger-ca.crt, sni: backend.internal}")
                + SeedManifests.serviceEntry("untrusted-backend", port: tlsPort, version: "v1").text + "\n---\n"
                + SeedManifests.serviceEntry("secure-backend", port: tlsPort, version: "v1").text + "\n---\n"
                + SeedManifests.serviceEntry("mirror-backend", port: tlsPort, version: "v1").text + "\n---\n"
                + SeedManifests.serviceEntry("plain-backend", port: tlsPort, version: "v1").text
            let routes = """
                  - match: [{uri: {prefix: /plain}}]
                    route: [{destination: {host: plain-backend}}]
                  - match: [{uri: {prefix: /untrusted}}]
                    route: [{destination: {host: untrusted-backend}}]
                  - match: [{uri: {prefix: /mirrored}}]
                    route: [{destination: {host: secure-backend}}]
                    mirror: {host: mirror-backend}
                  - route: [{destination: {host: secure-backend}}]
                """
            try await Self.withEdge(routes: routes, more, certificates: certificates) { gateway, port in
                let secure = try await Curl.get("http://127.0.0.1:\(port)/")
                #expect(secure.status == 200, "\(secure.body)")
                #expect(secure.body.contains("This is v1"))
                let plain = try await Curl.get("http://127.0.0.1:\(port)/plain")
                #expect(plain.status >= 500, "\(plain.status) \(plain.body)")
                // A certificate the DestinationRule's CA did not sign: TLS never came up, so nothing reached the
                // upstream's application, a failure to connect (Envoy's UF), said in BoringSSL's reason code.
                let untrusted = try await Curl.get("http://127.0.0.1:\(port)/untrusted")
                #expect(untrusted.status == 503, "\(untrusted.body)")
                #expect(untrusted.body.contains("TLS handshake failed: CERTIFICATE_VERIFY_FAILED"), "\(untrusted.body)")
                #expect(!untrusted.body.contains(".build") && !untrusted.body.contains("BoringSSL"), "\(untrusted.body)")
                let counted = await eventually(.seconds(10)) {
                    gateway.telemetry.snapshot().series.contains { key, _ in
                        key.destinationService == "untrusted-backend" && key.responseCode == 503 && key.responseFlags == .upstreamConnectionFailure
                    }
                }
                #expect(counted, "\(gateway.telemetry.snapshot().series.keys.filter { $0.destinationService == "untrusted-backend" })")
                // The shadow copy goes over TLS too: the mirror's answer, counted apart, is the backend's 200.
                let mirrored = try await Curl.get("http://127.0.0.1:\(port)/mirrored")
                #expect(mirrored.status == 200, "\(mirrored.body)")
                let shadowAnswered = await eventually(.seconds(10)) {
                    gateway.telemetry.snapshot().series.contains { key, counters in
                        key.kind == .mirror && key.destinationService == "mirror-backend" && key.responseCode == 200 && counters.requests == 1
                    }
                }
                #expect(shadowAnswered, "\(gateway.telemetry.snapshot().series.keys.filter { $0.kind == .mirror })")
            }
        }
    }

    @Test("portLevelSettings originates TLS on one port of a host, as Istio's egress TLS origination does: requests to that port reach the HTTPS endpoint, the host's other port stays plain")
    func portLevelTLSOrigination() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("backend", hosts: ["backend.internal"])
        // The endpoint: a second gateway serving the v1 demo app over HTTPS on one port and plain HTTP on another.
        let front = Self.gateway(
            Self.httpsServer(hosts: ["\"*\""], tls: "{serverCertificate: backend.crt, privateKey: backend.key}"),
            "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]"
        )
        try await Self.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            let plainPort = try #require(backend.boundPort(forDeclared: 80))
            // Istio's example: port 80 of the ServiceEntry is HTTP to the application, HTTPS on the wire.
            let more = """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: api}
                spec:
                  hosts: [api.internal]
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  ports:
                  - {number: 80, name: http-port, protocol: HTTP}
                  - {number: 8080, name: plain, protocol: HTTP}
                  endpoints:
                  - {address: 127.0.0.1, ports: {http-port: \(tlsPort), plain: \(plainPort)}}
                ---
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: api}
                spec:
                  host: api.internal
                  trafficPolicy:
                    connectionPool: {http: {maxRequestsPerConnection: 1}}
                    portLevelSettings:
                    - port: {number: 80}
                      tls: {mode: SIMPLE, caCertificates: ca.crt, sni: backend.internal}
                """
            let routes = """
                  - match: [{uri: {prefix: /plain}}]
                    route: [{destination: {host: api.internal, port: {number: 8080}}}]
                  - route: [{destination: {host: api.internal, port: {number: 80}}}]
                """
            try await Self.withEdge(routes: routes, more, certificates: certificates) { gateway, port in
                let secure = try await Curl.get("http://127.0.0.1:\(port)/")
                #expect(secure.status == 200, "\(secure.body)")
                #expect(secure.body.contains("This is v1"))
                let plain = try await Curl.get("http://127.0.0.1:\(port)/plain")
                #expect(plain.status == 200, "\(plain.body)")
                #expect(plain.body.contains("This is v1"))
            }
        }
    }

    @Test("an HTTPS endpoint that requires a client certificate the DestinationRule does not give is 503 UF saying so, without the TLS library's internals, as Envoy counts a refused TLS 1.3 client")
    func upstreamRequiresClientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("backend", hosts: ["backend.internal"])
        // The endpoint: a second gateway terminating TLS with MUTUAL in front of the v1 demo app.
        let front = Self.gateway(
            Self.httpsServer(hosts: ["\"*\""], tls: "{mode: MUTUAL, serverCertificate: backend.crt, privateKey: backend.key, caCertificates: ca.crt}")
        )
        try await Self.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            let more = Self.destinationRule("secure-backend", tls: "{mode: SIMPLE, caCertificates: ca.crt, sni: backend.internal}")
                + SeedManifests.serviceEntry("secure-backend", port: tlsPort, version: "v1").text
            try await Self.withEdge(routes: "  - route: [{destination: {host: secure-backend}}]", more, certificates: certificates) { gateway, port in
                let refused = try await Curl.get("http://127.0.0.1:\(port)/")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.body.contains("TLS handshake failed: TLSV1_ALERT_CERTIFICATE_REQUIRED"), "\(refused.body)")
                #expect(!refused.body.contains(".build") && !refused.body.contains("sslError"), "\(refused.body)")
                let counted = await eventually(.seconds(10)) {
                    gateway.telemetry.snapshot().series.contains { key, _ in
                        key.destinationService == "secure-backend" && key.responseCode == 503 && key.responseFlags == .upstreamConnectionFailure
                    }
                }
                #expect(counted, "\(gateway.telemetry.snapshot().series.keys.filter { $0.destinationService == "secure-backend" })")
            }
        }
    }

    @Test("a DestinationRule's tls without sni names the server by each request's host, as Istio's auto_sni: the endpoint picks its certificate by it, connections are kept apart per host, and the certificate must name that host")
    func upstreamServerNamePerRequest() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("a", hosts: ["a.example.com"])
        _ = try await certificates.server("b", hosts: ["b.example.com"])
        // The endpoint: a gateway with a certificate per host, which answers 421 to a request for one host on a
        // connection whose handshake named the other: a pooled connection reused across hosts would show.
        let front = Self.gateway(
            Self.httpsServer(hosts: ["a.example.com"], tls: "{serverCertificate: a.crt, privateKey: a.key}"),
            Self.httpsServer(hosts: ["b.example.com"], tls: "{serverCertificate: b.crt, privateKey: b.key}")
        )
        try await Self.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            let more = Self.destinationRule("secure-backend", tls: "{mode: SIMPLE, caCertificates: ca.crt}")
                + SeedManifests.serviceEntry("secure-backend", port: tlsPort, version: "v1").text
            // A host the route gives the request is the one named, as Envoy's auto_sni follows a route's host rewrite:
            // from headers, or rewrite.authority over headers.
            let routes = """
                  - match: [{headers: {x-case: {exact: set}}}]
                    headers: {request: {set: {host: b.example.com}}}
                    route: [{destination: {host: secure-backend}}]
                  - match: [{headers: {x-case: {exact: rewritten}}}]
                    rewrite: {authority: b.example.com}
                    headers: {request: {set: {host: c.example.com}}}
                    route: [{destination: {host: secure-backend}}]
                  - route: [{destination: {host: secure-backend}}]
                """
            try await Self.withEdge(routes: routes, more, certificates: certificates) { _, port in
                for host in ["a.example.com", "b.example.com", "A.example.com", "b.example.com"] {
                    let answer = try await Curl.get("http://127.0.0.1:\(port)/", ["-H", "Host: \(host)"])
                    #expect(answer.status == 200, "\(host): \(answer.status) \(answer.body)")
                    #expect(answer.body.contains("This is v1"), "\(host): \(answer.body)")
                }
                for edit in ["set", "rewritten"] {
                    let answer = try await Curl.get("http://127.0.0.1:\(port)/", ["-H", "Host: a.example.com", "-H", "x-case: \(edit)"])
                    #expect(answer.status == 200, "\(edit): \(answer.status) \(answer.body)")
                    #expect(answer.body.contains("This is v1"), "\(edit): \(answer.body)")
                }
                // No server of the endpoint's lists this name: it answers with its first certificate, for a.example.com.
                let unnamed = try await Curl.get("http://127.0.0.1:\(port)/", ["-H", "Host: c.example.com"])
                #expect(unnamed.status == 503, "\(unnamed.body)")
                #expect(
                    unnamed.body.contains(
                        "TLS handshake failed: the endpoint's certificate names a.example.com, not c.example.com (the request's host, "
                    ),
                    "\(unnamed.body)"
                )
            }
        }
    }

    @Test("an endpoint whose certificate does not name the request's host is 503 UF saying whose names it has, as Istio's auto_san_validation refuses it; subjectAltNames admits it, for HTTP/1 and HTTP/2 alike; sni without subjectAltNames checks the chain only")
    func upstreamCertificateNames() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("backend", hosts: ["backend.internal", "*.apps.internal"])
        let front = Self.gateway(Self.httpsServer(hosts: ["\"*\""], tls: "{serverCertificate: backend.crt, privateKey: backend.key}"))
        try await Self.withGateway(front, certificates: certificates) { backend in
            let tlsPort = try #require(backend.boundPort(forDeclared: 443))
            // Every destination is the same endpoint, whose certificate the CA signed for backend.internal and
            // *.apps.internal: only the names each DestinationRule asks for differ.
            let rules = [
                ("by-host", "{mode: SIMPLE, caCertificates: ca.crt}"),
                ("web.apps.internal", "{mode: SIMPLE, caCertificates: ca.crt}"),
                ("by-name", "{mode: SIMPLE, caCertificates: ca.crt, subjectAltNames: [other.internal, backend.internal]}"),
                ("wrong-name", "{mode: SIMPLE, caCertificates: ca.crt, subjectAltNames: [other.internal]}"),
                ("by-sni", "{mode: SIMPLE, caCertificates: ca.crt, sni: backend.internal}"),
                ("h2-by-host", "{mode: SIMPLE, caCertificates: ca.crt}"),
            ]
            var more = ""
            for (host, tls) in rules {
                more += Self.destinationRule(host, tls: tls) + SeedManifests.serviceEntry(host, port: tlsPort, version: "v1").text + "\n---\n"
            }
            more = more.replacingOccurrences(
                of: "spec: {host: h2-by-host, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ca.crt}}}",
                with: "spec: {host: h2-by-host, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ca.crt}, connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}}"
            )
            let routes = rules.map { host, _ in
                "  - match: [{uri: {prefix: /\(host)}}]\n    route: [{destination: {host: \(host)}}]"
            }.joined(separator: "\n")
            try await Self.withEdge(routes: routes, more, certificates: certificates) { gateway, port in
                // Each request names its destination as its host, as a client of that service would.
                for path in ["web.apps.internal", "by-name", "by-sni"] {
                    let answer = try await Curl.get("http://127.0.0.1:\(port)/\(path)", ["-H", "Host: \(path)"])
                    #expect(answer.status == 200, "\(path): \(answer.body)")
                    #expect(answer.body.contains("This is v1"), "\(path): \(answer.body)")
                }
                for path in ["by-host", "h2-by-host"] {
                    let refused = try await Curl.get("http://127.0.0.1:\(port)/\(path)", ["-H", "Host: \(path)"])
                    #expect(refused.status == 503, "\(path): \(refused.body)")
                    #expect(
                        refused.body.contains(
                            "TLS handshake failed: the endpoint's certificate names backend.internal, *.apps.internal, not \(path) "
                                + "(the request's host, checked as Istio does when tls has neither sni nor subjectAltNames)"
                        ),
                        "\(path): \(refused.body)"
                    )
                }
                let wrong = try await Curl.get("http://127.0.0.1:\(port)/wrong-name", ["-H", "Host: wrong-name"])
                #expect(wrong.status == 503, "\(wrong.body)")
                #expect(
                    wrong.body.contains("not other.internal (the subjectAltNames of its DestinationRule or ServiceEntry)"), "\(wrong.body)"
                )
                let counted = await eventually(.seconds(10)) {
                    let keys = gateway.telemetry.snapshot().series.keys
                    return ["by-host", "h2-by-host", "wrong-name"].allSatisfy { host in
                        keys.contains { $0.destinationService == host && $0.responseCode == 503 && $0.responseFlags == .upstreamConnectionFailure }
                    }
                }
                #expect(counted, "\(gateway.telemetry.snapshot().series.keys.filter { $0.responseCode == 503 })")
            }
        }
    }
}

/// What a test's certificate watcher reported.
final class ReloadLog: Sendable {
    private let log = Mutex<[CertificateReload]>([])
    var outcomes: [CertificateReload] { log.withLock { $0 } }
    func add(_ outcome: CertificateReload) { log.withLock { $0.append(outcome) } }
}

/// examples/tls as its README runs it, with certificates made where the manifest names them.
@Suite(
    "TLS example", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"), .timeLimit(.minutes(2))
)
struct TLSExampleTests {
    @Test("examples/tls serves web.example.com over HTTPS with certs/ beside it and redirects its HTTP port")
    func example() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-tls-example-\(UUID().uuidString)")
        let certificates = try await TestCertificates.make(in: directory.appendingPathComponent("certs"))
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let example = SerinProcess.repositoryRoot.appendingPathComponent("examples/tls/web-gateway-https.yaml")
        try FileManager.default.copyItem(at: example, to: directory.appendingPathComponent("web-gateway-https.yaml"))
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let entries = SeedManifests.sources(v1: v1.port, v2: v2.port).filter { $0.path.hasSuffix("web-serviceentry.yaml") }
        let set = ManifestSet(sources: ManifestLoader.load(paths: [directory.path], recursive: false).sources + entries)
        #expect(set.errors.isEmpty, "\(set.errors)")
        let gateway = GatewayServer(threads: 2, portMapping: .ephemeral)
        do {
            try await gateway.install(RouteTable(compiling: set.config))
            let https = try #require(gateway.boundPort(forDeclared: 443))
            let http = try #require(gateway.boundPort(forDeclared: 80))
            let page = try await GatewayTLSTests.https("web.example.com", port: https, ca: certificates.ca.certificate)
            #expect(page.status == 200, "\(page.stderr)")
            #expect(page.body.contains("This is v1"))
            let redirect = try await Curl.get("http://web.example.com:\(http)/", ["--resolve", "web.example.com:\(http):127.0.0.1"])
            #expect(redirect.status == 301)
            #expect(redirect.header("location") == "https://web.example.com/")
        } catch {
            Issue.record(error)
        }
        await gateway.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a WebSocket over HTTPS: the handshake and messages pass through the TLS-terminating gateway, and the client's close ends the tunnel")
    func webSocketOverHTTPS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com", "chat.example.com"])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let chat = try await WebSocketEchoServer.start(name: "chat", group: group)
        let yaml = GatewayTLSTests.gateway(GatewayTLSTests.httpsServer(hosts: ["web.example.com", "chat.example.com"], tls: "{mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key}")) + """

            ---
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: chat}
            spec: {hosts: [chat.example.com], gateways: [web-gateway], http: [{route: [{destination: {host: chat}}]}]}
            ---

            """ + SeedManifests.serviceEntry("chat", port: chat.port, version: "v1").text
        try await GatewayTLSTests.withGateway(yaml, certificates: certificates) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            let client = try await WebSocketClient.connect(
                port: port, host: "chat.example.com", trusting: certificates.ca.certificate, group: group
            )
            try await client.send(text: "over tls")
            #expect(await client.next() == .text("chat: over tls"))
            try await client.sendClose()
            #expect(await client.next() == .close(code: 1000))
            #expect(await client.waitForClose())
            #expect(await eventually(.seconds(20)) { gateway.openConnectionCount == 0 && chat.openConnections == 0 })
        }
        await chat.close()
        try await group.shutdownGracefully()
    }
}
