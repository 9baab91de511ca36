import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinEmbedded
import SerinListener
import SerinManifests
import SerinTesting
import Testing

@Suite("serin route", .timeLimit(.minutes(2)))
struct RouteCommandTests {
    /// A directory holding `NAME.yaml`: a DestinationRule `NAME` for web-v1-service whose `trafficPolicy` is `policy`, a
    /// flow mapping or block lines indented four spaces.
    static func destinationRule(_ name: String, trafficPolicy policy: String) throws -> URL {
        try SerinProcess.temporaryDirectory(holding: [ManifestSource(path: "\(name).yaml", text: """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: \(name)}
            spec:
              host: web-v1-service
              trafficPolicy: \(policy)
            """)])
    }

    @Test("on an HTTPS port, says which server's handshake a connection gets, its certificate and what it asks of clients, and a Host served with other TLS settings than that handshake's is the live gateway's 421")
    func explainsHandshake() async throws {
        let gateway = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge}
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [web.example.com]
                tls: {mode: SIMPLE, serverCertificate: /etc/hosts, privateKey: /etc/hosts}
              - port: {number: 443, name: https-admin, protocol: HTTPS}
                hosts: [admin.example.com]
                tls: {mode: MUTUAL, serverCertificate: /etc/passwd, privateKey: /etc/hosts, caCertificates: /etc/hosts}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web}
            spec: {hosts: [web.example.com, admin.example.com], gateways: [edge], http: [{route: [{destination: {host: web-v1-service}}]}]}
            """
        let directory = try SerinProcess.temporaryDirectory(holding: [ManifestSource(path: "edge.yaml", text: gateway)])
        let seed = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed/web-serviceentry.yaml").path
        let admin = try await SerinProcess.run(["route", "-f", directory.path, "-f", seed, "--port", "443", "--host", "admin.example.com"])
        #expect(admin.status == 0, "\(admin.stdout) \(admin.stderr)")
        #expect(admin.stdout.contains(
            "tls:     terminated by Gateway default/edge server (hosts admin.example.com) for server name \"admin.example.com\", MUTUAL: presents "
                + "/etc/passwd; a client certificate is required, verified against /etc/hosts"
        ), "\(admin.stdout)")
        let crossed = try await SerinProcess.run(
            ["route", "-f", directory.path, "-f", seed, "--port", "443", "--host", "admin.example.com", "--sni", "web.example.com"]
        )
        #expect(crossed.status == 1)
        #expect(crossed.stdout.contains("SIMPLE: presents /etc/hosts; no client certificate asked"), "\(crossed.stdout)")
        #expect(crossed.stdout.contains("result:  421, host \"admin.example.com\" is served on port 443 with other TLS settings"), "\(crossed.stdout)")
    }

    @Test("a path with dot segments or escapes is explained as the gateway routes it, normalized: /web/../ meets the seed's exact / match")
    func explainsNormalizedPath() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--path", "/web/%2e%2e/"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("path:    / (normalized as Istio's gateway normalizes it"), "\(result.stdout)")
        #expect(result.stdout.contains("web-v1-service:80"), "\(result.stdout)")
    }

    @Test("explains that the seed sends GET / to web-v1-service at its ServiceEntry address")
    func explainsSeedRoute() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com", "--path", "/"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("route:   default/web-virtualservice http[0]"))
        #expect(result.stdout.contains("match:   [0] uri exact /"))
        #expect(result.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081"))
    }

    @Test("shows both weighted destinations of the 90/10 step")
    func explainsWeights() async throws {
        let result = try await SerinProcess.run([
            "route", "-f", "examples/seed/web-serviceentry.yaml", "-f", "examples/seed/web-v1-service.yaml",
            "-f", "examples/seed/web-v2-service.yaml", "-f", "examples/seed/steps/web-gateway-virtualservice-90-10.yaml",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" 90%  web-v1-service:80"))
        #expect(result.stdout.contains(" 10%  web-v2-service:80 → 127.0.0.1:18082"))
    }

    @Test("weights are relative, as Istio's: 1 and 3 validate, and serin route gives each destination its share of the traffic")
    func explainsRelativeWeights() async throws {
        let step = try String(contentsOfFile: "examples/seed/steps/web-gateway-virtualservice-90-10.yaml", encoding: .utf8)
            .replacingOccurrences(of: "weight: 90", with: "weight: 1").replacingOccurrences(of: "weight: 10", with: "weight: 2")
        let directory = try SerinProcess.temporaryDirectory(holding: [ManifestSource(path: "thirds.yaml", text: step)])
        let files = [
            "-f", "examples/seed/web-serviceentry.yaml", "-f", "examples/seed/web-v1-service.yaml", "-f", "examples/seed/web-v2-service.yaml",
            "-f", directory.appendingPathComponent("thirds.yaml").path,
        ]
        let validated = try await SerinProcess.run(["validate"] + files.filter { $0 != "-f" })
        #expect(validated.status == 0, "\(validated.stderr)")
        let result = try await SerinProcess.run(["route"] + files)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" 33.3%  web-v1-service:80"), "\(result.stdout)")
        #expect(result.stdout.contains(" 66.7%  web-v2-service:80 → 127.0.0.1:18082"), "\(result.stdout)")
    }

    @Test("says how the gateway speaks to each destination when not plain HTTP/1.1: a DestinationRule's TLS with the names it checks, a gRPC port's HTTP/2, a load balancer that does not take the endpoints in turn")
    func explainsUpstreamProtocol() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let cases = [
            ("sni: web.internal, ", "sni web.internal, CA \(certificates.ca.certificate), certificate names not checked (sni without subjectAltNames)"),
            ("", "CA \(certificates.ca.certificate), sni the request's host, certificate must name the request's host"),
            (
                "subjectAltNames: [web.internal, spiffe://web], ",
                "CA \(certificates.ca.certificate), sni the request's host, certificate must name web.internal or spiffe://web"
            ),
        ]
        for (fields, words) in cases {
            let rule = try Self.destinationRule(
                "web-v1-tls", trafficPolicy: "{tls: {mode: SIMPLE, \(fields)caCertificates: \(certificates.ca.certificate)}}"
            )
            let tls = try await SerinProcess.run(["route", "-f", "examples/seed", "-f", rule.path, "--host", "example.com"])
            #expect(tls.status == 0, "\(tls.stderr)")
            #expect(tls.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081 (TLS SIMPLE, \(words))"), "\(tls.stdout)")
        }
        let grpc = try await SerinProcess.run(["route", "-f", "examples/grpc", "--host", "echo"])
        #expect(grpc.stdout.contains("100%  echo-v1:9000 → 127.0.0.1:19091 (HTTP/2)"), "\(grpc.stdout)")
        #expect(!grpc.stdout.contains("grpc-web:"), "port 80's server is HTTP: \(grpc.stdout)")
        let web = try await SerinProcess.run(
            ["route", "-f", "examples/grpc", "--host", "echo", "--port", "8080", "--header", "content-type=application/grpc-web-text"]
        )
        #expect(web.stdout.contains("grpc-web: translated to gRPC for an HTTP/2 destination, its answer back as gRPC-Web"), "\(web.stdout)")
        let plain = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com"])
        #expect(plain.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081\n"), "\(plain.stdout)")
        let hashed = try Self.destinationRule(
            "web-v1-lb", trafficPolicy: "{loadBalancer: {consistentHash: {httpCookie: {name: affinity, ttl: 1h}}}}"
        )
        let balanced = try await SerinProcess.run(["route", "-f", "examples/seed", "-f", hashed.path, "--host", "example.com"])
        #expect(
            balanced.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081 (endpoint by hash of cookie affinity (made by the gateway when absent))"),
            "\(balanced.stdout)"
        )
    }

    @Test("says which DestinationRule policy a destination's connections get: the rule's (its retry budget in place of maxRetries, its PROXY protocol), or its port's own from portLevelSettings, in place of it (retry budget and PROXY protocol too)")
    func explainsTrafficPolicy() async throws {
        func rule(portLevel port: Int) throws -> URL {
            try Self.destinationRule("web-v1-policy", trafficPolicy: """

                    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10, maxRetries: 2}}
                    outlierDetection: {consecutive5xxErrors: 3}
                    retryBudget: {percent: 25}
                    proxyProtocol: {version: V2}
                    portLevelSettings:
                    - port: {number: \(port)}
                      connectionPool: {tcp: {maxConnections: 5, maxConnectionDuration: 10m, tcpKeepalive: {time: 30s}}}
                """)
        }
        let ruleOwn = try await SerinProcess.run(["route", "-f", "examples/seed", "-f", try rule(portLevel: 8080).path, "--host", "example.com"])
        #expect(ruleOwn.status == 0, "\(ruleOwn.stderr)")
        #expect(
            ruleOwn.stdout.contains(
                "100%  web-v1-service:80 → 127.0.0.1:18081 (PROXY protocol v2; at most 100 connections, 10 pending, 3 retrying, or 25% of requests in flight if more; "
                    + "ejected after 3 consecutive 5xx for 30s)"
            ),
            "\(ruleOwn.stdout)"
        )
        let portOwn = try await SerinProcess.run(["route", "-f", "examples/seed", "-f", try rule(portLevel: 80).path, "--host", "example.com"])
        #expect(
            portOwn.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081 (at most 5 connections, connections live at most 10m, TCP keepalive after 30s)"),
            "\(portOwn.stdout)"
        )
    }

    @Test("says why nothing matches and exits 1")
    func noRoute() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--path", "/other"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("404, no route of default/web-virtualservice matches GET /other"))
    }

    @Test("a request the gateway refuses before routing is explained as its 400, by the gateway's own parser, not routed", arguments: [
        (["--path", "abc"], "400, malformed request: target abc is not origin-form, http(s) absolute-form or * for OPTIONS"),
        (["--header", "x-note=a\u{7}b"], "400, malformed request: control byte 7 in header x-note"),
        (["--header", "bad name=1"], "400,"),
        // The space is named, not the version after it.
        (["--path", "/a b"], "400, malformed request: the target \"/a b\" holds a space; a request target has none (RFC 9112 §3.2: percent-encode it, %20 for a space)"),
    ])
    func refusedBeforeRouting(arguments: [String], expected: String) async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com"] + arguments)
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stdout.contains("result:  \(expected)"), "\(result.stdout)")
        #expect(!result.stdout.contains("route:"), "\(result.stdout)")
    }

    @Test("a --method that is not one word is a usage error naming it, not a request explained by its wrong field")
    func methodIsAToken() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--method", "GE T"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--method takes one word, such as GET or POST, got \"GE T\""), "\(result.stderr)")
        let custom = try await SerinProcess.run(["route", "-f", "examples/seed", "--method", "PROPFIND"])
        #expect(custom.status == 0, "\(custom.stderr)")
    }

    @Test("with --mesh, explains the sidecar's routing: reviews:9080 takes the mesh VirtualService, a Gateway port does not")
    func explainsMeshRoute() async throws {
        let mesh = try await SerinProcess.run(["route", "-f", "examples/mesh", "--mesh", "--host", "reviews:9080"])
        #expect(mesh.status == 0, "\(mesh.stderr)")
        #expect(mesh.stdout.contains("request: GET / host \"reviews:9080\" through the mesh"), "\(mesh.stdout)")
        #expect(mesh.stdout.contains("route:   default/reviews http[0]"))
        #expect(mesh.stdout.contains("100%  reviews-v1:9080 → 127.0.0.1:19081"))
        // The warning that a mesh-only VirtualService needs --mesh is for commands not given it.
        #expect(!mesh.stderr.contains("bound to no gateway"), "\(mesh.stderr)")
        // --port names the service port when --host does not.
        let byPort = try await SerinProcess.run(["route", "-f", "examples/mesh", "--mesh", "--host", "reviews-v2", "--port", "9080"])
        #expect(byPort.stdout.contains("route:   default/reviews-v2 http[0] (no VirtualService: straight to the service)"), "\(byPort.stdout)")
        #expect(byPort.stdout.contains("100%  reviews-v2:9080 → 127.0.0.1:19082"))
        // Istio's default outbound route has the mesh's default retries, as a VirtualService's route does.
        #expect(byPort.stdout.contains("retries: up to 2 on connect-failure, refused-stream, unavailable, cancelled, 503"), "\(byPort.stdout)")
        let gateway = try await SerinProcess.run(["route", "-f", "examples/mesh", "--host", "reviews"])
        #expect(gateway.status == 1)
        #expect(gateway.stdout.contains("404, no gateway server listens on port 80"))
        #expect(gateway.stdout.contains("hint:    the mesh routes reviews:9080 (VirtualServices without gateways, or with mesh): ask with --mesh --host reviews:9080"), "\(gateway.stdout)")
        #expect(gateway.stderr.contains("VirtualService default/reviews is bound to no gateway (only the mesh)"), "\(gateway.stderr)")
    }

    @Test("with --mesh-labels, explains the routing of that workload's sidecar: a route for its sourceLabels applies, left out for others")
    func explainsSourceLabels() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = SerinProcess.repositoryRoot.appendingPathComponent("examples/mesh")
        try FileManager.default.copyItem(at: example.appendingPathComponent("reviews-services.yaml"), to: directory.appendingPathComponent("services.yaml"))
        try SeedManifests.meshReviews(http: """
            - match: [{sourceLabels: {app: productpage, version: v2}, sourceNamespace: shop}]
              route: [{destination: {host: reviews-v2}}]
            - route: [{destination: {host: reviews-v1}}]
            """).write(to: directory.appendingPathComponent("reviews.yaml"), atomically: true, encoding: .utf8)
        let arguments = ["route", "-f", directory.path, "--mesh", "--host", "reviews:9080"]
        let productpage = try await SerinProcess.run(arguments + ["--mesh-labels", "app=productpage,version=v2", "--mesh-namespace", "shop"])
        #expect(productpage.status == 0, "\(productpage.stderr)")
        #expect(productpage.stdout.contains("route:   default/reviews http[0]") && productpage.stdout.contains("100%  reviews-v2:9080"), "\(productpage.stdout)")
        #expect(productpage.stderr.isEmpty, "sourceLabels are read, not warned about: \(productpage.stderr)")
        for other in [["--mesh-labels", "app=productpage,version=v2"], []] {
            let result = try await SerinProcess.run(arguments + other)
            #expect(result.stdout.contains("route:   default/reviews http[1]") && result.stdout.contains("100%  reviews-v1:9080"), "\(other): \(result.stdout)")
        }
    }

    @Test("with --locality, a destination balanced by locality lists each endpoint's locality and priority level; without, the endpoints alone")
    func explainsLocality() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try SeedManifests.meshReviews(http: "- route: [{destination: {host: reviews}}]").write(
            to: directory.appendingPathComponent("reviews.yaml"), atomically: true, encoding: .utf8)
        try """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              endpoints:
              - {address: 127.0.0.1, ports: {http: 19081}, locality: us-east1/a}
              - {address: 127.0.0.1, ports: {http: 19082}, locality: eu-west1/a}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3}}
            """.write(to: directory.appendingPathComponent("services.yaml"), atomically: true, encoding: .utf8)
        let arguments = ["route", "-f", directory.path, "--mesh", "--host", "reviews:9080"]
        let ranked = try await SerinProcess.run(arguments + ["--locality", "us-east1/a"])
        #expect(ranked.status == 0, "\(ranked.stderr)")
        #expect(ranked.stdout.contains("→ 127.0.0.1:19081 us-east1/a priority 0, 127.0.0.1:19082 eu-west1/a priority 1"), "\(ranked.stdout)")
        let flat = try await SerinProcess.run(arguments)
        #expect(flat.stdout.contains("→ 127.0.0.1:19081, 127.0.0.1:19082"), "\(flat.stdout)")
    }

    @Test("a port no Gateway server names (the browser's 8080 for the seed's 80 at --port-offset 8000) gets the ports there are")
    func portOffsetHint() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com", "--port", "8080"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("result:  404, no gateway server listens on port 8080\n"
            + "hint:    Gateway servers listen on port 80; --port is the port the Gateway names, before any --port-offset"), "\(result.stdout)")
    }

    /// The seed's Gateway and services with one VirtualService whose routes each do something besides forwarding.
    static func policyManifests() throws -> URL {
        let directory = try SerinProcess.temporaryDirectory()
        for name in ["web-serviceentry.yaml", "web-v1-service.yaml", "web-v2-service.yaml"] {
            let source = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed/\(name)")
            try FileManager.default.copyItem(at: source, to: directory.appendingPathComponent(name))
        }
        try """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata: {name: web-gateway}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: web}
            spec:
              hosts: ["*"]
              gateways: [web-gateway]
              http:
              - match: [{uri: {prefix: /down}}]
                fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
                route: [{destination: {host: web-v1-service}}]
              - match: [{uri: {prefix: /old}}]
                redirect: {uri: /new, authority: new.example.com, redirectCode: 302}
              - match: [{uri: {prefix: /ping}}]
                directResponse: {status: 200, body: {string: pong}}
              - match: [{uri: {prefix: /api}}]
                rewrite: {uri: /v2}
                timeout: 3s
                retries: {attempts: 4, perTryTimeout: 1s, retryOn: "5xx,reset", backoff: 50ms, retryIgnorePreviousHosts: false, retryRemoteLocalities: true}
                fault: {delay: {fixedDelay: 2s, percentage: {value: 10}}}
                headers: {request: {set: {x-env: prod, host: api.internal}, remove: [x-debug]}}
                corsPolicy: {allowOrigins: [{exact: "https://shop.example"}, {prefix: "https://preview-"}]}
                mirror: {host: web-v2-service}
                mirrorPercentage: {value: 25}
                route: [{destination: {host: web-v1-service}, weight: 90}, {destination: {host: web-v2-service}, weight: 10}]

            """.write(to: directory.appendingPathComponent("web-vs.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test("a route that aborts every request, redirects or answers itself says so instead of listing destinations", arguments: [
        ("/down", "result:  every request is answered 503 by the route's fault; nothing is forwarded"),
        ("/old", "result:  redirects with 302 to host new.example.com, path /new; nothing is forwarded"),
        ("/ping", "result:  answers 200 with a 4-byte body itself; nothing is forwarded"),
    ])
    func localAnswers(path: String, expected: String) async throws {
        let directory = try Self.policyManifests()
        let result = try await SerinProcess.run(["route", "-f", directory.path, "--path", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(expected), "\(result.stdout)")
        #expect(!result.stdout.contains("destinations:"), "\(result.stdout)")
    }

    @Test("a forwarding route shows its fault, rewrite, cors, headers, timeout, retries and mirror before its destinations")
    func policySteps() async throws {
        let directory = try Self.policyManifests()
        let result = try await SerinProcess.run(["route", "-f", directory.path, "--path", "/api/users"])
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "fault:   10% of requests held 2s first",
            "rewrite: the matched path prefix becomes /v2",
            "cors:    allows origins exact https://shop.example, prefix https://preview-: the gateway answers their preflights and marks their answers",
            "headers: request: set x-env: prod, remove x-debug, host becomes api.internal",
            "timeout: 3s for the whole request, retries included",
            "retries: up to 4 on 5xx, reset, 1s a try, backoff from 50ms, to the endpoint the balancer picks, tried or not, leaving the localities tried (every second attempt)",
            "mirror:  25% copied to web-v2-service; its answers are discarded",
            " 90%  web-v1-service:80",
        ] {
            #expect(result.stdout.contains(line), "missing \(line) in:\n\(result.stdout)")
        }
        let seed = try await SerinProcess.run(["route", "-f", "examples/seed", "--path", "/"])
        #expect(seed.stdout.contains("retries: up to 2 on connect-failure, refused-stream, unavailable, cancelled, 503"), "Istio's default: \(seed.stdout)")
    }

    @Test("without -f it asks the running Serin: the live weights an apply set, not the files'; a bad question or no Serin is said")
    func asksTheRunningSerin() async throws {
        try await ApplyCommandTests.withRuntime { runtime, _ in
            let apply = try await SerinProcess.run([
                "apply", "-f", "examples/seed/steps/web-gateway-virtualservice-90-10.yaml", "--server", runtime.adminURL,
            ])
            #expect(apply.status == 0, "\(apply.stderr)")
            let live = try await SerinProcess.run(["route", "--server", runtime.adminURL, "--host", "example.com", "--path", "/"])
            #expect(live.status == 0, "\(live.stderr)")
            #expect(live.stdout.contains("route:   default/web-virtualservice http[0]"), "\(live.stdout)")
            #expect(live.stdout.contains(" 90%  web-v1-service:80"), "\(live.stdout)")
            #expect(live.stdout.contains(" 10%  web-v2-service:80"), "\(live.stdout)")
            // The files still say 100/0.
            let files = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com", "--path", "/"])
            #expect(files.stdout.contains("100%  web-v1-service:80"), "\(files.stdout)")
            // The same words for the same question, no route included (exit 1).
            let missing = try await SerinProcess.run(["route", "--server", runtime.adminURL, "--path", "/other"])
            let missingFromFiles = try await SerinProcess.run(["route", "-f", "examples/seed", "--path", "/other"])
            #expect(missing.status == 1 && missing.stdout == missingFromFiles.stdout, "\(missing.stdout) vs \(missingFromFiles.stdout)")
            // The API says what is wrong with a question, naming the parameter.
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: runtime.admin.port, group: MultiThreadedEventLoopGroup.singleton)
            let bad = try await client.send(.GET, "/route?port=http", timeout: .seconds(10))
            await client.close()
            #expect(bad.status == 400 && bad.bodyText.contains("port takes a number from 1 to 65535, got \\\"http\\\""), "\(bad.bodyText)")
        }
        let both = try await SerinProcess.run(["route", "-f", "examples/seed", "--server", "http://127.0.0.1:9"])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
        let nobody = try await SerinProcess.run(["route", "--server", "http://127.0.0.1:9"])
        #expect(nobody.status == 1 && nobody.stderr.contains("no Serin answering at http://127.0.0.1:9") && nobody.stderr.contains("-f FILE|DIR"),
                "\(nobody.stderr)")
    }
}
