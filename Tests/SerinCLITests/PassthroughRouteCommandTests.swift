import Foundation
import SerinTesting
import Testing

@Suite("serin route and validate on a PASSTHROUGH port", .timeLimit(.minutes(2)))
struct PassthroughRouteCommandTests {
    @Test("explains where a TLS connection naming db.example.com goes: the server, the tls route, 90/10 to db v1 and v2")
    func explainsServerName() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/passthrough", "--port", "443", "--sni", "db.example.com"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("connection: TLS to port 443, server name \"db.example.com\" (passed through"), "\(result.stdout)")
        #expect(result.stdout.contains("server:  Gateway default/edge PASSTHROUGH (hosts db.example.com, *.apps.example.com)"))
        #expect(result.stdout.contains("route:   default/db tls[0]"))
        #expect(result.stdout.contains("match:   sniHosts db.example.com"))
        #expect(result.stdout.contains(" 90%  db-v1:5443 → 127.0.0.1:9443"))
        #expect(result.stdout.contains(" 10%  db-v2:5443 → 127.0.0.1:9444"))
    }

    @Test("a wildcard's name takes its route; a name no route takes says the connection is closed and exits 1")
    func wildcardAndNoRoute() async throws {
        let wildcard = try await SerinProcess.run(["route", "-f", "examples/passthrough", "--port", "443", "--sni", "x.apps.example.com"])
        #expect(wildcard.status == 0, "\(wildcard.stderr)")
        #expect(wildcard.stdout.contains("route:   default/apps tls[0]"))
        #expect(wildcard.stdout.contains("match:   sniHosts *.apps.example.com (wildcard)"))
        let unknown = try await SerinProcess.run(["route", "-f", "examples/passthrough", "--port", "443", "--sni", "mail.example.com"])
        #expect(unknown.status == 1)
        #expect(
            unknown.stdout.contains("result:  connection closed (NR), no PASSTHROUGH server on port 443 accepts server name \"mail.example.com\""),
            "\(unknown.stdout)"
        )
        // Closed is not passed through: the connection line does not say it is.
        #expect(unknown.stdout.contains("connection: TLS to port 443, server name \"mail.example.com\"\n"), "\(unknown.stdout)")
        #expect(!unknown.stdout.contains("passed through"), "\(unknown.stdout)")
        let anonymous = try await SerinProcess.run(["route", "-f", "examples/passthrough", "--port", "443", "--sni", ""])
        #expect(anonymous.status == 1)
        #expect(anonymous.stdout.contains("connection: TLS to port 443, no server name (SNI)\n"), "\(anonymous.stdout)")
        #expect(anonymous.stdout.contains("result:  connection closed (NR), the ClientHello names no server (no SNI)"), "\(anonymous.stdout)")
    }

    @Test("serin validate accepts the example and prints a tls route's errors at their lines")
    func validate() async throws {
        let accepted = try await SerinProcess.run(["validate", "examples/passthrough"])
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/passthrough/db-passthrough.yaml"), encoding: .utf8)
        let broken = directory.appendingPathComponent("db.yaml")
        try example.replacingOccurrences(of: "sniHosts: [db.example.com]", with: "sniHosts: [db.example.org]").write(to: broken, atomically: true, encoding: .utf8)
        let refused = try await SerinProcess.run(["validate", broken.path])
        #expect(refused.status != 0)
        #expect(
            (refused.stdout + refused.stderr).contains(
                "db.yaml:26:18: error: spec.tls[0].match[0].sniHosts[0]: db.example.org is not covered by the VirtualService's hosts"
            ),
            "\(refused.stdout)\(refused.stderr)"
        )
    }

    @Test("on a port shared with an HTTPS server, a name no PASSTHROUGH server lists is terminated there: the handshake's server, certificate and client check are said, and the request routes by Host")
    func sharedPort() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/passthrough/db-passthrough.yaml"), encoding: .utf8)
        let https = "---\n" + SeedManifests.httpsGateway(host: "web.example.com", certificate: "/etc/hosts", key: "/etc/hosts")
            + "\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\n"
            + "spec: {hosts: [web.example.com], gateways: [web-edge], http: [{route: [{destination: {host: db-v1, port: {number: 5443}}}]}]}\n"
        let file = directory.appendingPathComponent("shared.yaml")
        try (example + https).write(to: file, atomically: true, encoding: .utf8)
        let web = try await SerinProcess.run(["route", "-f", file.path, "--port", "443", "--sni", "web.example.com", "--host", "web.example.com"])
        #expect(web.status == 0, "\(web.stderr)")
        #expect(web.stdout.contains(
            "tls:     terminated by Gateway default/web-edge server (hosts web.example.com) for server name \"web.example.com\", SIMPLE: presents /etc/hosts; no client certificate asked"
        ), "\(web.stdout)")
        #expect(web.stdout.contains("route:   default/web http[0]"), "\(web.stdout)")
        #expect(!web.stdout.contains("passed through"), "\(web.stdout)")
        let db = try await SerinProcess.run(["route", "-f", file.path, "--port", "443", "--sni", "db.example.com"])
        #expect(db.stdout.contains("route:   default/db tls[0]"), "\(db.stdout)")
        #expect(db.stdout.contains("(passed through: the destination terminates TLS)"), "\(db.stdout)")
    }
}
