import NIOCore
import NIOHPACK
import NIOHTTP1
@testable import SerinGateway
import Testing

/// How an RFC 8441 extended CONNECT becomes the HTTP/1.1 upgrade it stands for, and the `101` the stream's `200`.
@Suite("HTTP/2 extended CONNECT")
struct HTTP2ExtendedConnectTests {
    static func connect(_ extra: [(String, String)] = [], protocolName: String? = "websocket") -> HPACKHeaders {
        var headers = HPACKHeaders([(":method", "CONNECT")])
        if let protocolName { headers.add(name: ":protocol", value: protocolName) }
        headers.add(contentsOf: [(":scheme", "https"), (":path", "/chat?room=1"), (":authority", "chat.example.com")])
        headers.add(contentsOf: extra)
        return headers
    }

    static func upgradeHead(_ headers: HPACKHeaders) throws -> String {
        var random = FastRandom(seed: 42)
        var bytes = ByteBuffer()
        let protocolName = try #require(try HTTP2ExtendedConnect.requestedProtocol(headers))
        try HTTP2ExtendedConnect.writeUpgradeHead(headers, protocolName: protocolName, random: &random, to: &bytes)
        return String(buffer: bytes)
    }

    @Test("a WebSocket CONNECT becomes GET with Upgrade, the client's WebSocket fields and a generated 16-byte key")
    func webSocketHead() throws {
        let head = try Self.upgradeHead(Self.connect([("sec-websocket-version", "13"), ("sec-websocket-protocol", "chat")]))
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "GET /chat?room=1 HTTP/1.1")
        #expect(lines.contains("host: chat.example.com"))
        #expect(lines.contains("sec-websocket-version: 13"))
        #expect(lines.contains("sec-websocket-protocol: chat"))
        #expect(lines.contains("connection: upgrade"))
        #expect(lines.contains("upgrade: websocket"))
        let key = try #require(lines.first { $0.hasPrefix("sec-websocket-key: ") }?.dropFirst("sec-websocket-key: ".count))
        #expect(key.count == 24 && key.hasSuffix("=="), "\(key)")
        #expect(head.hasSuffix("\r\n\r\n"))
        #expect(!head.contains("transfer-encoding") && !head.contains("content-length"))
    }

    @Test("another protocol is passed on as a generic upgrade, without a WebSocket key")
    func otherProtocol() throws {
        let head = try Self.upgradeHead(Self.connect(protocolName: "connect-udp"))
        #expect(head.contains("upgrade: connect-udp\r\n"))
        #expect(!head.contains("sec-websocket-key"))
    }

    @Test("a plain CONNECT is refused with 501, as on HTTP/1, and a reason; other methods are not tunnels")
    func plainConnect() throws {
        let refused = #expect(throws: MalformedMessage.self) { try HTTP2ExtendedConnect.requestedProtocol(Self.connect(protocolName: nil)) }
        #expect(refused?.status == .notImplemented)
        #expect(refused?.reason.contains("RFC 8441") == true)
        #expect(try HTTP2ExtendedConnect.requestedProtocol([":method": "GET", ":path": "/"]) == nil)
    }

    @Test("the upstream's 101 is answered as 200 without the handshake's HTTP/1 fields")
    func tunnelOpened() throws {
        let head = try HTTP1HeadParser.parseResponse(
            ByteBuffer(
                string: "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                    + "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: chat\r\n\r\n"
            )
        )
        let headers = HTTP2ExtendedConnect.tunnelOpenedHeaders(head)
        #expect(headers[":status"] == ["200"])
        #expect(headers.first?.name == ":status", "\(headers)")
        #expect(headers["sec-websocket-protocol"] == ["chat"])
        #expect(headers["sec-websocket-accept"].isEmpty && headers["upgrade"].isEmpty && headers["connection"].isEmpty)
    }

    @Test("base64 as RFC 4648 §10's test vectors", arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")])
    func base64(_ text: String, _ encoded: String) {
        #expect(HTTP2ExtendedConnect.base64(Array(text.utf8)) == encoded)
    }
}

/// Which upstream HTTP/2 connection to an endpoint takes the next stream under `maxConcurrentStreams`.
@Suite("HTTP/2 upstream connection choice")
struct HTTP2UpstreamSessionChoiceTests {
    @Test(
        "the first connection below the cap takes the stream; none below it (or none at all) opens another",
        arguments: [
            ([], 2, nil), ([0], 2, 0), ([2, 1], 2, 1), ([2, 2], 2, nil), ([5], nil, 0), ([], nil, nil),
        ] as [([Int], Int?, Int?)]
    )
    func pick(activeStreams: [Int], cap: Int?, expected: Int?) {
        #expect(HTTP2UpstreamSessions.pick(activeStreams: activeStreams, maxConcurrentStreams: cap) == expected)
    }
}
