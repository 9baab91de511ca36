import Foundation
import NIOCore
import NIOHTTP1
@testable import SerinGateway
import Testing

/// The heads the proxy writes on, byte for byte: what an upstream and a client read.
@Suite("Heads written on")
struct ProxyHeadersTests {
    static func request(_ text: String) throws -> RequestHead {
        try HTTP1HeadParser.parseRequest(ByteBuffer(string: text), limits: .default)
    }

    static func response(_ text: String) throws -> ResponseHead {
        try HTTP1HeadParser.parseResponse(ByteBuffer(string: text))
    }

    /// A request head as it goes upstream, its random request id (if one was made) replaced by `<id>`.
    static func upstream(_ head: RequestHead, clientAddress: String? = "10.0.0.9", overTLS: Bool = false, upgrade: String? = nil) -> String {
        var random = FastRandom(seed: 7)
        var buffer = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(head, clientAddress: clientAddress, overTLS: overTLS, upgrade: upgrade, random: &random, to: &buffer)
        let text = String(buffer: buffer)
        guard let range = text.range(of: #"x-request-id: [0-9a-f]{32}\r\n"#, options: .regularExpression) else { return text }
        return text.replacingCharacters(in: range, with: "x-request-id: <id>\r\n")
    }

    @Test("a request goes upstream without its hop-by-hop fields, with the client's address, scheme and a request id")
    func plainRequest() throws {
        let head = try Self.request(
            "GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nConnection: keep-alive, x-secret\r\nx-secret: 1\r\nAccept: */*\r\nKeep-Alive: 5\r\n\r\n"
        )
        #expect(
            Self.upstream(head)
                == "GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\nx-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: http\r\n"
                + "x-request-id: <id>\r\nx-envoy-attempt-count: 1\r\n\r\n"
        )
    }

    @Test("x-forwarded-for and x-request-id the client sent are kept (the address extended); its x-forwarded-proto is replaced by the connection's scheme, as Envoy with no trusted hops, its x-forwarded-client-cert dropped (Envoy's SANITIZE) and its x-envoy-attempt-count replaced by the gateway's; `te: trailers` and an upgrade pass on")
    func forwardedRequest() throws {
        let head = try Self.request(
            "POST /grpc.Echo/Say HTTP/1.1\r\nhost: echo\r\nx-forwarded-for: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8, 9.9.9.9\r\n"
                + "x-forwarded-proto: https\r\nX-Forwarded-Client-Cert: By=spiffe://evil;Subject=\"CN=admin\"\r\n"
                + "x-request-id: abc\r\nTE: Trailers\r\nx-envoy-attempt-count: 5\r\ncontent-length: 0\r\n\r\n"
        )
        #expect(
            Self.upstream(head, overTLS: false, upgrade: "websocket")
                == "POST /grpc.Echo/Say HTTP/1.1\r\nhost: echo\r\nx-request-id: abc\r\ncontent-length: 0\r\n"
                + "te: trailers\r\nx-forwarded-for: 1.2.3.4, 5.6.7.8, 9.9.9.9, 10.0.0.9\r\nx-forwarded-proto: http\r\n"
                + "connection: upgrade\r\nupgrade: websocket\r\nx-envoy-attempt-count: 1\r\n\r\n"
        )
        #expect(
            Self.upstream(head, clientAddress: nil).hasPrefix("POST /grpc.Echo/Say HTTP/1.1\r\nhost: echo\r\nx-forwarded-for: 1.2.3.4\r\n"),
            "without a client address the client's own x-forwarded-for fields go on as they came"
        )
    }

    @Test("at a gateway a client's x-envoy-* controls are removed, in any case, as Envoy removes them from an external request, so no sidecar behind obeys a client's retries or timeouts; the mesh (no client address) passes them on, as a sidecar's internal requests")
    func clientEnvoyControlsRemoved() throws {
        let head = try Self.request(
            "GET /a HTTP/1.1\r\nhost: shop\r\nx-envoy-retry-on: 5xx\r\nX-Envoy-Max-Retries: 10\r\nx-envoy-upstream-rq-timeout-ms: 1\r\n"
                + "x-envoy-internal: true\r\nx-envoy-original-path: /admin\r\nx-envoyish: kept\r\nx-envoy: kept\r\naccept: */*\r\n\r\n"
        )
        #expect(
            Self.upstream(head)
                == "GET /a HTTP/1.1\r\nhost: shop\r\nx-envoyish: kept\r\nx-envoy: kept\r\naccept: */*\r\nx-forwarded-for: 10.0.0.9\r\n"
                + "x-forwarded-proto: http\r\nx-request-id: <id>\r\nx-envoy-attempt-count: 1\r\n\r\n"
        )
        let mesh = Self.upstream(head, clientAddress: nil)
        #expect(mesh.contains("x-envoy-retry-on: 5xx\r\nX-Envoy-Max-Retries: 10\r\n"), "\(mesh)")
    }

    @Test("a request id's digits, made eight at a time, are the generator's two numbers in lower-case hex, first digit first")
    func requestIDDigits() {
        var random = FastRandom(seed: 11)
        for _ in 0..<1_000 {
            var copy = random
            let (high, low) = (copy.next(), copy.next())
            var buffer = ByteBuffer()
            buffer.writeHead(maximumBytes: 32) { out in random.writeRequestID(to: &out) }
            let expected = [high, low].map { String($0, radix: 16) }.map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
            #expect(String(buffer: buffer) == expected)
        }
        for value: UInt32 in [0, 0xFFFF_FFFF, 0x0123_4567, 0x89AB_CDEF, 0xA0B0_C0D0] {
            let digits = withUnsafeBytes(of: FastRandom.hexDigits(value)) { String(decoding: $0, as: UTF8.self) }
            let written = String(value, radix: 16)
            #expect(digits == String(repeating: "0", count: 8 - written.count) + written)
        }
    }

    @Test("a fresh request id takes the place of the client's; a request whose connection field named its x-request-id still leaves with one")
    func requestIDAlwaysSent() throws {
        let head = try Self.request("GET /a HTTP/1.1\r\nhost: shop\r\nx-request-id: chosen-by-client\r\n\r\n")
        var random = FastRandom(seed: 7)
        var buffer = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(head, clientAddress: "10.0.0.9", overTLS: false, freshRequestID: true, random: &random, to: &buffer)
        let fresh = try HTTP1HeadParser.parseRequest(buffer, limits: .default)
        #expect(fresh.fields.values(.xRequestID).count == 1 && fresh.fields.first(.xRequestID)?.count == 32, "\(String(buffer: buffer))")

        let named = try Self.request("GET /a HTTP/1.1\r\nhost: shop\r\nconnection: x-request-id\r\nx-request-id: a\r\n\r\n")
        let upstream = Self.upstream(named, clientAddress: nil)
        #expect(upstream.contains("x-request-id: <id>\r\n") && !upstream.contains("x-request-id: a\r\n"), "\(upstream)")
    }

    @Test("each retry renumbers the head's x-envoy-attempt-count, as Istio has Envoy's router number every attempt; the head stays whole past 9 and 99")
    func attemptCount() throws {
        let head = try Self.request("GET /a HTTP/1.1\r\nhost: shop\r\n\r\n")
        var random = FastRandom(seed: 7)
        var buffer = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(head, clientAddress: nil, overTLS: false, random: &random, to: &buffer)
        for attempt in 2...101 {
            ProxyHeaders.numberAttempt(attempt, of: &buffer)
            let parsed = try HTTP1HeadParser.parseRequest(buffer, limits: .default)
            #expect(parsed.fields.values(.xEnvoyAttemptCount) == ["\(attempt)"])
            #expect(String(buffer: buffer).hasSuffix("\r\nx-envoy-attempt-count: \(attempt)\r\n\r\n") && parsed.target == "/a")
        }
    }

    @Test("a long target and many fields are written whole")
    func largeRequest() throws {
        let target = "/" + String(repeating: "p", count: 3000)
        let fields = (0..<60).map { "x-field-\($0): \(String(repeating: "v", count: $0 * 7))\r\n" }.joined()
        let head = try Self.request("GET \(target) HTTP/1.1\r\nhost: shop\r\n\(fields)\r\n")
        #expect(
            Self.upstream(head)
                == "GET \(target) HTTP/1.1\r\nhost: shop\r\n\(fields)x-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: http\r\n"
                + "x-request-id: <id>\r\nx-envoy-attempt-count: 1\r\n\r\n"
        )
    }

    @Test("field lines go on as `name: value` CR LF: written as they came when already so, otherwise cleaned of extra blanks")
    func fieldLinesNormalized() throws {
        let head = try Self.request(
            "GET / HTTP/1.1\r\nHost: shop\r\na: 1\r\nb:2\r\nc:   3  \r\nd: 4\ne: 5\r\nKeep-Alive: 9\r\nf: \t6\t7\r\ng: 8\r\n\r\n"
        )
        #expect(
            Self.upstream(head)
                == "GET / HTTP/1.1\r\nHost: shop\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\t7\r\ng: 8\r\n"
                + "x-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: http\r\nx-request-id: <id>\r\nx-envoy-attempt-count: 1\r\n\r\n"
        )
        var edited = try Self.request("GET / HTTP/1.1\r\nHost: shop\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n")
        edited.fields.remove("b")
        edited.fields.add(name: "z", value: "26")
        #expect(
            Self.upstream(edited, clientAddress: nil).hasPrefix("GET / HTTP/1.1\r\nHost: shop\r\na: 1\r\nc: 3\r\nz: 26\r\nx-forwarded-proto"),
            "a field removed from between others, or one added, leaves the rest whole"
        )
    }

    @Test(
        "a response goes to the client without hop-by-hop fields, and says how the connection goes on",
        arguments: [
            (HTTPVersion.http1_1, true, false, "HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (.http1_1, false, false, "HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n"),
            // An HTTP/1.0 client reads the body decoded: no chunked framing, so no transfer-encoding.
            (.http1_0, true, true, "HTTP/1.0 200 OK\r\nServer: nginx\r\nconnection: keep-alive\r\n\r\n"),
        ])
    func response(version: HTTPVersion, keepAlive: Bool, decoded: Bool, expected: String) throws {
        let head = try Self.response("HTTP/1.1 200 OK\r\nServer: nginx\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n")
        var buffer = ByteBuffer()
        ProxyHeaders.writeDownstreamResponse(head, version: version, keepAlive: keepAlive, decodedBody: decoded, to: &buffer)
        #expect(String(buffer: buffer) == expected)
    }

    @Test("an answer's Trailer field goes on with the trailers it announces (it is not hop-by-hop), and is dropped with them when the body is decoded for an HTTP/1.0 client")
    func trailerField() throws {
        let head = try Self.response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n")
        var buffer = ByteBuffer()
        ProxyHeaders.writeDownstreamResponse(head, version: .http1_1, keepAlive: true, decodedBody: false, to: &buffer)
        #expect(String(buffer: buffer) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n")
        buffer.clear()
        ProxyHeaders.writeDownstreamResponse(head, version: .http1_0, keepAlive: false, decodedBody: true, to: &buffer)
        #expect(String(buffer: buffer) == "HTTP/1.0 200 OK\r\nconnection: close\r\n\r\n")
    }

    @Test("a 204's content-length or transfer-encoding is not passed on: it has no body whatever they say, and a lax client would read the next answer's bytes as this one's; a 304 keeps its length, which RFC 9110 allows")
    func noContentSaysNoLength() throws {
        var buffer = ByteBuffer()
        ProxyHeaders.writeDownstreamResponse(
            try Self.response("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n"),
            version: .http1_1, keepAlive: true, decodedBody: false, to: &buffer
        )
        #expect(String(buffer: buffer) == "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n")
        buffer.clear()
        ProxyHeaders.writeDownstreamResponse(
            try Self.response("HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n"), version: .http1_1, keepAlive: true, decodedBody: false, to: &buffer
        )
        #expect(String(buffer: buffer) == "HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n")
    }

    @Test("`trailers` among a client's te codings goes on as te: trailers alone, as Envoy sends it; te without it goes nowhere", arguments: [
        ("TE: trailers, deflate;q=0.5", true), ("te: deflate\r\nte: Trailers", true), ("te: deflate", false), ("te: trailersx", false),
    ])
    func teTrailers(field: String, kept: Bool) throws {
        let upstream = Self.upstream(try Self.request("GET / HTTP/1.1\r\nhost: shop\r\n\(field)\r\n\r\n"))
        #expect(upstream.contains("\r\nte: trailers\r\n") == kept && !upstream.contains("deflate"), "\(upstream)")
    }

    @Test("a status code outside three digits and an empty reason are written as they came")
    func unusualStatus() throws {
        var head = try Self.response("HTTP/1.1 599\r\ncontent-length: 0\r\n\r\n")
        var buffer = ByteBuffer()
        ProxyHeaders.writeDownstreamResponse(head, version: .http1_1, keepAlive: true, decodedBody: false, to: &buffer)
        #expect(String(buffer: buffer) == "HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n")
        head.status = 1000
        buffer.clear()
        ProxyHeaders.writeDownstreamResponse(head, version: .http1_1, keepAlive: true, decodedBody: false, to: &buffer)
        #expect(String(buffer: buffer) == "HTTP/1.1 1000 \r\ncontent-length: 0\r\n\r\n")
    }

    @Test("a 101 keeps its upgrade and sheds the other hop-by-hop fields")
    func switchingProtocols() throws {
        let head = try Self.response(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "Keep-Alive: 5\r\n\r\n"
        )
        var buffer = ByteBuffer()
        ProxyHeaders.writeSwitchingProtocols(head, to: &buffer)
        #expect(
            String(buffer: buffer)
                == "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "connection: upgrade\r\nupgrade: websocket\r\n\r\n"
        )
    }
}
