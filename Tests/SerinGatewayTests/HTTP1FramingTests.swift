import Foundation
import NIOCore
import NIOHTTP2
import SerinGateway
import SerinTesting
import Testing

/// How the gateway frames what it forwards: bodies pass through with the framing they came with, answers
/// end where HTTP says they end, and framing a next hop might read differently is refused. Real sockets on
/// 127.0.0.1: raw clients on one side, a scripted backend that answers byte for byte on the other.
@Suite("HTTP/1 framing through the gateway", .timeLimit(.minutes(2)))
struct HTTP1FramingTests {
    static let ok = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"

    /// Opens raw connections to a gateway in front of a scripted backend.
    struct Setup {
        let gateway: GatewayServer
        let port: Int
        let group: any EventLoopGroup
        let backend: ScriptedBackend

        func connect() async throws -> RawConnection { try await RawConnection.connect(port: port, group: group) }

        /// Body bytes counted so far for answers with `status`, as `istio_request_bytes` and
        /// `istio_response_bytes` sum them.
        func bodyBytes(status: Int = 200) -> (request: Double, response: Double, count: Int) {
            let series = gateway.telemetry.snapshot().series.filter { $0.key.responseCode == status }.map(\.value)
            return (
                series.reduce(0) { $0 + $1.requestSize.sum }, series.reduce(0) { $0 + $1.responseSize.sum },
                series.reduce(0) { $0 + $1.requests }
            )
        }
    }

    static func withScriptedBackend(
        limits: GatewayLimits = .default, answer: @escaping @Sendable (String) -> ScriptedBackend.Answer?, _ body: (Setup) async throws -> Void
    ) async throws {
        let backends = TestBackends()
        let backend = try await ScriptedBackend.start(group: backends.group, answer: answer)
        let config = SeedMesh.config(endpoints: ["web-v1-service": backend.port], uriMatch: nil)
        try await GatewayProxyTests.withGateway(config, limits: limits) { gateway, port in
            try await body(Setup(gateway: gateway, port: port, group: backends.group, backend: backend))
        }
        await backend.close()
        await backends.shutdown()
    }

    /// Answers once a whole head has arrived.
    static func afterHead(_ reply: String, close: Bool = false, reset: Bool = false) -> @Sendable (String) -> ScriptedBackend.Answer? {
        { $0.contains("\r\n\r\n") ? .init(reply, close: close, reset: reset) : nil }
    }

    @Test("a chunked request body reaches the upstream byte for byte, and the connection serves the next request")
    func chunkedRequestBody() async throws {
        // Answered once the last chunk is in (not at a head whose generated x-request-id happens to end in 0).
        try await Self.withScriptedBackend(answer: { $0.hasSuffix("\r\n0\r\n\r\n") || $0.hasPrefix("GET") ? .init(Self.ok) : nil }) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST /upload HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
            try await raw.send("6;note=x\r\n world\r\n0\r\n\r\n")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            let upstream = setup.backend.received
            #expect(upstream.lowercased().contains("transfer-encoding: chunked\r\n"), "\(upstream)")
            #expect(upstream.hasSuffix("\r\n\r\n5\r\nhello\r\n6;note=x\r\n world\r\n0\r\n\r\n"), "\(upstream)")
            try await raw.send("GET /next HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await eventually(.seconds(5)) { raw.received.components(separatedBy: "200 OK").count == 3 }, "\(raw.received)")
            #expect(!raw.isClosed)
            // The body is 11 bytes, whatever its chunk framing; the second request had none.
            let counted = setup.bodyBytes()
            #expect(counted.count == 2 && counted.request == 11, "\(counted)")
            await raw.close()
        }
    }

    @Test("a client's request trailers are dropped, as Envoy drops them on HTTP/1: a forged x-forwarded-client-cert or content-length in them never reaches the backend")
    func requestTrailersDropped() async throws {
        try await Self.withScriptedBackend(answer: { $0.hasSuffix("\r\n0\r\n\r\n") ? .init(Self.ok) : nil }) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST /upload HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-forwarded-client-cert: Hash=evil\r\n")
            try await raw.send("content-length: 99\r\nx-forwarded-for: 6.6.6.6\r\n\r\n")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            let upstream = setup.backend.received
            #expect(upstream.hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(upstream)")
            #expect(!upstream.contains("evil") && !upstream.contains("6.6.6.6") && !upstream.contains("content-length: 99"), "\(upstream)")
            await raw.close()
        }
    }

    @Test("an HTTP/2 client's request trailers are dropped too (nghttp --trailer): a forged x-forwarded-client-cert or host in them never reaches the backend")
    func http2RequestTrailersDropped() async throws {
        try await Self.withScriptedBackend(answer: { $0.hasSuffix("\r\n0\r\n\r\n") ? .init(Self.ok) : nil }) { setup in
            let body = FileManager.default.temporaryDirectory.appendingPathComponent("serin-trailer-body-\(UUID().uuidString)")
            try Data("abc".utf8).write(to: body)
            defer { try? FileManager.default.removeItem(at: body) }
            let run = try await SerinProcess.run(
                // Without content-length, so the stream goes upstream chunked, where trailers could follow.
                ["-d", body.path, "--no-content-length", "--trailer", "x-forwarded-client-cert: Hash=evil", "--trailer", "host: evil.example",
                 "http://127.0.0.1:\(setup.port)/upload"],
                program: URL(fileURLWithPath: "/usr/bin/nghttp"), timeout: .seconds(30)
            )
            #expect(run.status == 0 && run.stdout == "ok\n", "\(run.stdout) \(run.stderr)")
            let upstream = setup.backend.received
            #expect(upstream.hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(upstream)")
            #expect(!upstream.contains("evil"), "\(upstream)")
        }
    }

    @Test("an HTTP/2 request whose :path is not a path (an absolute URL naming another host) or whose :authority is empty is answered 400 and goes nowhere, as Envoy refuses it; the connection's next stream is served")
    func http2PathMustBeAPath() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            for (authority, path) in [("web", "http://internal.example:81/x"), ("web", "x"), ("web", "*"), ("", "/")] {
                let refused = try await client.request(authority: authority, path: path)
                #expect(refused.status == 400, "\(authority) \(path): \(refused)")
            }
            #expect(setup.backend.received.isEmpty, "\(setup.backend.received)")
            let served = try await client.request(authority: "web", path: "/")
            #expect(served.status == 200 && served.body == "ok\n", "\(served)")
            await client.close()
        }
    }

    @Test("on an HTTP/2 connection a request over the header limits (here 100 fields) is answered 431 on its stream, as over HTTP/1, and the connection's other streams go on")
    func http2HeadOverLimits() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            #expect(try await client.request(authority: "web", path: "/").status == 200)
            let many = try await client.request(authority: "web", path: "/", fields: (0..<120).map { ("x-field-\($0)", "v") })
            #expect(many.status == 431, "\(many)")
            let after = try await client.request(authority: "web", path: "/", fields: [("cookie", String(repeating: "c", count: 8_000))])
            #expect(after.status == 200 && after.body == "ok\n", "\(after)")
            await client.close()
        }
    }

    @Test("an answer its upstream ends short of its length reaches an HTTP/2 client as far as it came, then RST_STREAM INTERNAL_ERROR, so the client knows it is incomplete; the connection's next stream is served")
    func http2AnswerCutShort() async throws {
        let answer: @Sendable (String) -> ScriptedBackend.Answer? = { received in
            guard received.contains("\r\n\r\n") else { return nil }
            if received.hasPrefix("GET /short") {
                return .init("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nthe first part", close: true)
            }
            return .init(Self.ok)
        }
        try await Self.withScriptedBackend(answer: answer) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            let cut = try await client.request(authority: "web", path: "/short")
            #expect(cut.status == 200 && cut.body == "the first part" && cut.resetCode == .internalError, "\(cut)")
            let next = try await client.request(authority: "web", path: "/")
            #expect(next.status == 200 && next.body == "ok\n", "\(next)")
            await client.close()
        }
    }

    @Test("an answer head too large for one HTTP/2 frame is a 502 on its stream, not the end of the client's connection; one that fits goes through")
    func http2OversizedAnswerHead() async throws {
        let answer: @Sendable (String) -> ScriptedBackend.Answer? = { received in
            guard received.contains("\r\n\r\n") else { return nil }
            let size = received.hasPrefix("GET /big") ? 30_000 : 12_000
            return .init("HTTP/1.1 200 OK\r\nx-large: \(String(repeating: "x", count: size))\r\ncontent-length: 3\r\n\r\nok\n")
        }
        try await Self.withScriptedBackend(answer: answer) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            let big = try await client.request(authority: "web", path: "/big")
            #expect(big.status == 502 && big.body.contains("does not fit one HTTP/2 frame"), "\(big)")
            let fits = try await client.request(authority: "web", path: "/fits")
            #expect(fits.status == 200 && fits.body == "ok\n", "\(fits)")
            await client.close()
        }
    }

    @Test("to an HTTP/2 client an answer's trailers leave out the fields no trailer section may hold (a client refuses the whole answer over one), and a transfer coding besides chunked is a 502, as Envoy answers it")
    func http2AnswerFraming() async throws {
        let answer: @Sendable (String) -> ScriptedBackend.Answer? = { received in
            guard received.contains("\r\n\r\n") else { return nil }
            if received.hasPrefix("GET /gzip") {
                return .init("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            }
            return .init("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\ncontent-length: 99\r\nx-t: 1\r\n\r\n")
        }
        try await Self.withScriptedBackend(answer: answer) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            // curl, as browsers, refuses an answer whose trailers carry a content-length (PROTOCOL_ERROR, exit 92).
            let trailed = try await Curl.get("http://127.0.0.1:\(setup.port)/trailers", ["--http2-prior-knowledge", "-H", "host: web"])
            #expect(trailed.exitCode == 0 && trailed.status == 200 && trailed.body == "ok", "\(trailed.exitCode) \(trailed.stderr)")
            let coded = try await client.request(authority: "web", path: "/gzip")
            #expect(coded.status == 502 && coded.body.contains("transfer coding gzip"), "\(coded)")
            await client.close()
        }
    }

    @Test("a 204 that says a length reaches an HTTP/2 client at once, without it (its stream used to wait for good)")
    func http2NoContentWithLength() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n")) { setup in
            let client = try await HTTP2StreamClient.connect(port: setup.port, group: setup.group)
            let answer = try await client.request(authority: "web", path: "/")
            #expect(answer.status == 204 && answer.body.isEmpty && answer.resetCode == nil, "\(answer)")
            await client.close()
        }
    }

    @Test("a chunked answer reaches an HTTP/1.1 client chunked on a kept connection, an HTTP/1.0 client as plain data and a close")
    func chunkedAnswer() async throws {
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
        try await Self.withScriptedBackend(answer: Self.afterHead(chunked)) { setup in
            let raw = try await setup.connect()
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("0\r\n\r\n"), "\(raw.received)")
            #expect(raw.received.hasSuffix("\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"), "\(raw.received)")
            #expect(raw.received.lowercased().contains("transfer-encoding: chunked"))
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await eventually(.seconds(5)) { raw.received.components(separatedBy: "200 OK").count == 3 }, "the connection serves the next request")
            await raw.close()

            let old = try await setup.connect()
            try await old.send("GET / HTTP/1.0\r\nhost: web\r\n\r\n")
            #expect(await old.waitForClose(), "an HTTP/1.0 client reads a body of unknown length to the close")
            #expect(old.received.hasPrefix("HTTP/1.0 200 OK\r\n"), "\(old.received)")
            #expect(old.received.hasSuffix("\r\n\r\nhello, world"), "\(old.received)")
            #expect(!old.received.lowercased().contains("transfer-encoding"), "\(old.received)")
            // Three answers of 12 body bytes each, chunked on the wire or not.
            let counted = setup.bodyBytes()
            // Counted once each: the HTTP/1.0 answer's close is its end, not a client going away (flag DC).
            let series = setup.gateway.telemetry.snapshot().series
            #expect(counted.count == 3 && counted.response == 36, "\(series)")
            #expect(!series.keys.contains { $0.responseFlags == .downstreamConnectionTermination }, "\(series)")
        }
    }

    @Test("an answer with neither length nor chunks ends when the upstream closes: an HTTP/1.1 client gets it chunked, as Envoy frames it, and its connection serves the next request; an HTTP/1.0 client reads it to the close")
    func answerUntilClose() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead("HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nbody until close", close: true)) { setup in
            let raw = try await setup.connect()
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            let framed = "HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n10\r\nbody until close\r\n0\r\n\r\n"
            #expect(await raw.waitFor(framed), "\(raw.received)")
            try await raw.send("GET /next HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor(framed + framed), "\(raw.received)")
            #expect(!raw.isClosed)
            await raw.close()

            let old = try await setup.connect()
            try await old.send("GET / HTTP/1.0\r\nhost: web\r\n\r\n")
            #expect(await old.waitForClose())
            #expect(old.received.hasPrefix("HTTP/1.0 200 OK\r\n"), "\(old.received)")
            #expect(old.received.lowercased().contains("connection: close") && !old.received.contains("chunked"), "\(old.received)")
            #expect(old.received.hasSuffix("\r\n\r\nbody until close"), "\(old.received)")
        }
    }

    @Test("an answer framed by the upstream's close that ends in a reset is cut short for an HTTP/1.1 client: no last chunk, the connection closed, so the client knows the body is incomplete")
    func untilCloseResetIsCut() async throws {
        // In two writes 30 ms apart: the head is through before the reset, which may discard what follows it.
        let answer: @Sendable (String) -> ScriptedBackend.Answer? = {
            $0.contains("\r\n\r\n") ? .init("HTTP/1.1 200 OK\r\n\r\npart of a body", reset: true, pieces: 2) : nil
        }
        try await Self.withScriptedBackend(answer: answer) { setup in
            let raw = try await setup.connect()
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"), "\(raw.received)")
            #expect(!raw.received.hasSuffix("0\r\n\r\n"), "\(raw.received)")
        }
    }

    @Test("the answer to HEAD carries a length but no body, and the connection serves the next request")
    func headRequest() async throws {
        let answer: @Sendable (String) -> ScriptedBackend.Answer? = { received in
            guard received.contains("\r\n\r\n") else { return nil }
            return .init(received.hasPrefix("HEAD") ? "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" : Self.ok)
        }
        try await Self.withScriptedBackend(answer: answer) { setup in
            let raw = try await setup.connect()
            try await raw.send("HEAD / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("content-length: 1000\r\n"), "\(raw.received)")
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            #expect(raw.received.hasSuffix("content-length: 1000\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"), "\(raw.received)")
            await raw.close()
        }
    }

    @Test("the gateway answers expect: 100-continue itself, as Envoy does: the body goes on at once to a backend that never sends 100, the expectation goes no further, and a backend's own 100 is not passed on a second time")
    func continueAnsweredByGateway() async throws {
        // This backend never sends 100: it answers once the body is in, whether or not it saw an expectation.
        try await Self.withScriptedBackend(answer: { $0.hasSuffix("hello") || $0.hasPrefix("GET") ? .init(Self.ok) : nil }) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST / HTTP/1.1\r\nhost: web\r\nExpect: 100-Continue\r\ncontent-length: 5\r\n\r\n")
            #expect(await raw.waitFor("HTTP/1.1 100 Continue\r\n\r\n"), "\(raw.received)")
            try await raw.send("hello")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            #expect(raw.received.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(raw.received)")
            #expect(!setup.backend.received.lowercased().contains("expect"), "\(setup.backend.received)")
            // Nothing to continue without a body: no interim answer, and the connection serves the next request.
            try await raw.send("GET /b HTTP/1.1\r\nhost: web\r\nexpect: 100-continue\r\n\r\n")
            #expect(await raw.waitFor("ok\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"), "\(raw.received)")
            #expect(raw.received.components(separatedBy: "100 Continue").count == 2, "\(raw.received)")
            await raw.close()
        }
        // This one sends 100 after any head, as some servers do.
        let eager: @Sendable (String) -> ScriptedBackend.Answer? = { received in
            if received.hasSuffix("\r\n\r\n") { return .init("HTTP/1.1 100 Continue\r\n\r\n", keepReceived: true) }
            return received.hasSuffix("hello") ? .init(Self.ok) : nil
        }
        try await Self.withScriptedBackend(answer: eager) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST / HTTP/1.1\r\nhost: web\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n")
            #expect(await raw.waitFor("HTTP/1.1 100 Continue\r\n\r\n"), "\(raw.received)")
            try await raw.send("hello")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            #expect(raw.received.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(raw.received)")
            // An HTTP/1.0 client's expectation is ignored (RFC 9110 §10.1.1), and the backend's 100 is not for it.
            let old = try await setup.connect()
            try await old.send("POST / HTTP/1.0\r\nhost: web\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\nhello")
            #expect(await old.waitFor("ok\n"), "\(old.received)")
            #expect(old.received.hasPrefix("HTTP/1.0 200 OK\r\n"), "\(old.received)")
            await old.close()
            await raw.close()
        }
    }

    @Test("an upstream answering before the request's body has all arrived: the client is told connection: close, and the connection ends after the answer")
    func earlyAnswerSaysClose() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead("HTTP/1.1 413 Payload Too Large\r\ncontent-length: 4\r\n\r\nbig\n")) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST /upload HTTP/1.1\r\nhost: web\r\ncontent-length: 100000\r\n\r\n" + String(repeating: "x", count: 1000))
            #expect(await raw.waitFor("big\n"), "\(raw.received)")
            #expect(raw.received.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(raw.received)")
            #expect(raw.received.contains("\r\nconnection: close\r\n"), "\(raw.received)")
            #expect(await raw.waitForClose(), "the connection ends after the answer")
            await raw.close()
        }
    }

    @Test(
        "framing a next hop could read differently is answered 400 and never reaches the upstream",
        arguments: [
            "POST / HTTP/1.1\r\nhost: web\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nhost: web\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
            "POST / HTTP/1.1\r\nhost: web\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nhost: web\r\ncontent-length : 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nhost: web\r\n x-folded: yes\r\ncontent-length: 5\r\n\r\nhello",
        ]
    )
    func ambiguousFraming(request: String) async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send(request)
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(raw.received)")
            #expect(setup.backend.received.isEmpty, "\(setup.backend.received)")
        }
    }

    @Test("a Connection header cannot make the gateway drop a request's content-length")
    func connectionCannotRemoveFraming() async throws {
        try await Self.withScriptedBackend(answer: { $0.hasSuffix("hello") ? .init(Self.ok) : nil }) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST / HTTP/1.1\r\nhost: web\r\nconnection: content-length, x-hop\r\nx-hop: 1\r\ncontent-length: 5\r\n\r\nhello")
            #expect(await raw.waitFor("ok\n"), "\(raw.received)")
            let upstream = setup.backend.received.lowercased()
            #expect(upstream.contains("content-length: 5\r\n"), "\(upstream)")
            #expect(!upstream.contains("x-hop"), "\(upstream)")
            await raw.close()
        }
    }

    @Test("a request head that arrives a few bytes at a time, and an answer split anywhere, are each read whole")
    func splitHeads() async throws {
        let answer = "HTTP/1.1 200 OK\r\nx-long: \(String(repeating: "z", count: 200))\r\ncontent-length: 40\r\n\r\n"
            + String(repeating: "b", count: 40)
        // What is pinned here is reassembly, not the head deadline: a test process slow to send the next piece
        // must not see the head dropped.
        let patient = GatewayLimits(requestHeaderTimeout: .seconds(60))
        try await Self.withScriptedBackend(limits: patient, answer: { $0.contains("\r\n\r\n") ? .init(answer, pieces: 7) : nil }) { setup in
            let raw = try await setup.connect()
            for piece in ["GE", "T /slow HT", "TP/1.1\r", "\nhost: w", "eb\r\nx-a: 1\r\n", "\r", "\n"] {
                try await raw.send(piece)
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await raw.waitFor(String(repeating: "b", count: 40)), "\(raw.received)")
            #expect(setup.backend.received.hasPrefix("GET /slow HTTP/1.1\r\nhost: web\r\nx-a: 1\r\n"), "\(setup.backend.received)")
            #expect(raw.received.hasPrefix("HTTP/1.1 200 OK\r\nx-long: zzz"), "\(raw.received)")
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await eventually(.seconds(5)) { raw.received.components(separatedBy: "200 OK").count == 3 }, "\(raw.received)")
            await raw.close()
        }
    }

    @Test(
        "serin route refuses what the gateway refuses of a head's body framing, with the gateway's status: a length that is not a number, a length beside chunked, two lengths, a coding it cannot read",
        arguments: [
            ([("content-length", "abc")], 400), ([("content-length", "5"), ("transfer-encoding", "chunked")], 400),
            ([("content-length", "5"), ("content-length", "6")], 400), ([("transfer-encoding", "gzip")], 501),
            ([("content-length", "5")], 0), ([("transfer-encoding", "chunked")], 0),
        ]
    )
    func routeRefusesBadFraming(fields: [(String, String)], status: Int) {
        let refusal = RequestHeadCheck.refusal(method: "POST", target: "/", authority: "web", fields: fields)
        #expect((refusal?.status ?? 0) == status, "\(String(describing: refusal))")
    }

    @Test("hosts with a port, an empty port, an IPv6 literal with or without one, and absolute-form targets that name them are read and routed", arguments: [
        ("/", "reviews:9080"), ("/", "reviews:"), ("/", "[::1]:8080"), ("/", "[fd00::1]"), ("/", "127.0.0.1:65535"),
        ("http://reviews:9080/p?q=1", "x"), ("HTTPS://[::1]/", "x"),
    ])
    func validHosts(target: String, host: String) {
        #expect(RequestHeadCheck.refusal(method: "GET", target: target, authority: host, fields: []) == nil)
    }

    @Test(
        "a request without exactly one host, or with one that is not a host and port, is answered 400 and closed, and never reaches the upstream (RFC 9112 §3.2; HTTP/1.0 too: it goes upstream as HTTP/1.1, and its 400 is an HTTP/1.0 answer, as Envoy's)",
        arguments: [
            "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", "GET / HTTP/1.1\r\nhost: web\r\nHost: web\r\n\r\n",
            "GET / HTTP/1.0\r\nhost: a\r\nhost: b\r\n\r\n", "GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nhost: a b\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: a/b\r\n\r\n", "GET / HTTP/1.1\r\nhost: user@a\r\n\r\n",
            // A port that is not one: the mesh listener would have routed these to port 80, or to 9080 by `+9080`.
            "GET / HTTP/1.1\r\nhost: reviews:abc\r\n\r\n", "GET / HTTP/1.1\r\nhost: reviews:+9080\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: reviews:99999\r\n\r\n", "GET / HTTP/1.1\r\nhost: reviews:0\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: a:1:2\r\n\r\n", "GET / HTTP/1.1\r\nhost: reviews:123456\r\n\r\n",
            "GET / HTTP/1.1\r\nhost: fd00::1\r\n\r\n",
            // An absolute-form target's authority becomes the Host: the same rules, and no userinfo.
            "GET http://reviews:abc/p HTTP/1.1\r\nhost: reviews\r\n\r\n", "GET http://evil@reviews:9080/p HTTP/1.1\r\nhost: reviews\r\n\r\n",
            "GET http:///p HTTP/1.1\r\nhost: reviews\r\n\r\n",
        ]
    )
    func hostCount(request: String) async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send(request)
            #expect(await raw.waitForClose())
            let version = request.hasPrefix("GET / HTTP/1.0") ? "HTTP/1.0" : "HTTP/1.1"
            #expect(raw.received.hasPrefix("\(version) 400 Bad Request\r\n"), "\(raw.received)")
            #expect(raw.received.contains("(RFC 9112 §3.2)") || raw.received.contains("(RFC 9110 §4.2.4)"), "\(raw.received)")
            #expect(setup.backend.received.isEmpty, "\(setup.backend.received)")
        }
    }

    @Test("a client's deadline longer than 64-bit nanoseconds count (grpc-timeout: 99999999H, legal gRPC) is served like any other, and the gateway goes on", arguments: [
        "2562048H", "99999999H", "99999999S", "99999999m",
    ])
    func hugeClientDeadline(timeout: String) async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\ngrpc-timeout: \(timeout)\r\n\r\nGET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("ok\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"), "\(raw.received)")
            await raw.close()
        }
    }

    @Test("on a kept connection a host is checked anew whenever it differs from the last request's: a bad one after a good one is still answered 400", arguments: [
        "web:99999", "web:abc", "a b", "web:80:80",
    ])
    func hostCheckedWhenItChanges(bad: String) async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send("GET / HTTP/1.1\r\nhost: web\r\n\r\nGET / HTTP/1.1\r\nhost: web\r\n\r\n")
            #expect(await raw.waitFor("ok\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"), "\(raw.received)")
            try await raw.send("GET / HTTP/1.1\r\nhost: \(bad)\r\n\r\n")
            #expect(await raw.waitForClose())
            #expect(raw.received.contains("ok\nHTTP/1.1 400 Bad Request\r\n"), "\(raw.received)")
        }
    }

    @Test(
        "a request transfer coding other than one chunked is answered 501 (RFC 9112 §6.1), chunked twice 400, and either is closed and never reaches the upstream",
        arguments: [
            ("gzip, chunked", "501 Not Implemented"), ("gzip", "501 Not Implemented"), ("chunked, gzip", "501 Not Implemented"),
            ("identity", "501 Not Implemented"), ("gzip\r\ntransfer-encoding: chunked", "501 Not Implemented"),
            ("chun\u{212A}ed", "501 Not Implemented"), ("chunked, chunked", "400 Bad Request"),
        ]
    )
    func unknownTransferCoding(codings: String, status: String) async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send("POST / HTTP/1.1\r\nhost: web\r\ntransfer-encoding: \(codings)\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 \(status)\r\n"), "\(raw.received)")
            #expect(setup.backend.received.isEmpty, "\(setup.backend.received)")
        }
    }

    @Test("a CONNECT to a Gateway port is answered 501 and closed: only the mesh listener opens tunnels, and nothing reaches the upstream")
    func connectOnGatewayPort() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let raw = try await setup.connect()
            try await raw.send("CONNECT web:80 HTTP/1.1\r\nhost: web:80\r\n\r\n")
            #expect(await raw.waitForClose())
            #expect(raw.received.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"), "\(raw.received)")
            #expect(raw.received.contains("only the mesh listener (--mesh) opens tunnels"), "\(raw.received)")
            #expect(setup.backend.received.isEmpty, "\(setup.backend.received)")
        }
    }

    @Test("a request in another major version is answered 505, and one in a higher HTTP/1 minor version is served as HTTP/1.1 (RFC 9112 §2.3)")
    func versions() async throws {
        try await Self.withScriptedBackend(answer: Self.afterHead(Self.ok)) { setup in
            let newer = try await setup.connect()
            try await newer.send("GET /minor HTTP/1.2\r\nhost: web\r\n\r\n")
            #expect(await newer.waitFor("ok\n"), "\(newer.received)")
            #expect(newer.received.hasPrefix("HTTP/1.1 200 OK\r\n") && !newer.isClosed, "\(newer.received)")
            #expect(setup.backend.received.hasPrefix("GET /minor HTTP/1.1\r\n"), "\(setup.backend.received)")
            let other = try await setup.connect()
            try await other.send("GET /major HTTP/2.0\r\nhost: web\r\n\r\n")
            #expect(await other.waitForClose())
            #expect(other.received.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"), "\(other.received)")
            #expect(!setup.backend.received.contains("/major"))
        }
    }
}
