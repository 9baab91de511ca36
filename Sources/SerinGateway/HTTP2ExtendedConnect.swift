import NIOCore
import NIOHPACK
import NIOHTTP1

/// RFC 8441's extended CONNECT — how a WebSocket (or any `:protocol`) opens on one HTTP/2 stream — as the HTTP/1.1
/// upgrade it stands for, so the proxy routes and tunnels it as it does an HTTP/1 `Upgrade` (Envoy does the same:
/// an h2 extended CONNECT reaches an HTTP/1 upstream as `GET` with `Upgrade`). The stream's request becomes
/// `GET path HTTP/1.1`, `Connection: upgrade`, `Upgrade: PROTOCOL`; the upstream's `101` comes back as `:status 200`
/// and the stream's DATA frames carry the tunnel's bytes both ways.
enum HTTP2ExtendedConnect {
    /// The protocol an extended CONNECT asks for (its `:protocol`), or nil for any other request. A plain CONNECT
    /// (no `:protocol`) is refused 501 (RFC 9110 §15.6.2): over HTTP/2 the gateway opens no TCP tunnels to an
    /// authority (over HTTP/1 the mesh's listener does, `ProxyHandler.openTunnel`).
    static func requestedProtocol(_ headers: HPACKHeaders) throws(MalformedMessage) -> String? {
        guard headers.first(name: ":method") == "CONNECT" else { return nil }
        guard let name = headers.first(name: ":protocol"), !name.isEmpty else {
            throw MalformedMessage(
                status: .notImplemented,
                reason: "CONNECT over HTTP/2 is served only as an extended CONNECT (RFC 8441) with a :protocol such as websocket;"
                    + " over HTTP/2 the gateway opens no TCP tunnels (the mesh listener opens them for an HTTP/1.1 CONNECT)"
            )
        }
        return name
    }

    /// The HTTP/1.1 upgrade request head for an extended CONNECT asking for `protocolName`: the fields the client sent
    /// (`sec-websocket-version`, `-protocol`, `-extensions`...) and, for a WebSocket, the `Sec-WebSocket-Key` an HTTP/1
    /// server needs and RFC 8441 §5 leaves out on HTTP/2. No body framing: what follows the head is the tunnel's.
    static func writeUpgradeHead(
        _ headers: HPACKHeaders, protocolName: String, random: inout FastRandom, to bytes: inout ByteBuffer
    ) throws(MalformedMessage) {
        guard let path = headers.first(name: ":path"), !path.isEmpty else {
            throw MalformedMessage(reason: "malformed extended CONNECT: no :path")
        }
        bytes.writeString("GET \(path) HTTP/1.1\r\n")
        let authority = headers.first(name: ":authority")
        if let authority { bytes.writeField("host", authority) }
        var hasKey = false
        for (name, value, _) in headers {
            if name.hasPrefix(":") { continue }
            switch name {
            case "host" where authority != nil, "content-length": continue
            case "sec-websocket-key": hasKey = true
            default: break
            }
            bytes.writeField(name, value)
        }
        bytes.writeField("connection", "upgrade")
        bytes.writeField("upgrade", protocolName)
        if protocolName.lowercased() == "websocket", !hasKey { bytes.writeField("sec-websocket-key", webSocketKey(&random)) }
        bytes.writeStaticString("\r\n")
    }

    /// The upstream's `101` as the stream's answer: `:status 200` and its fields, less the handshake's HTTP/1 parts
    /// (RFC 8441 §5: no `Sec-WebSocket-Accept` on HTTP/2; `Upgrade` and `Connection` are connection-specific).
    static func tunnelOpenedHeaders(_ head: ResponseHead) -> HPACKHeaders {
        // `:status` first: a pseudo-header after a regular field makes the block malformed (RFC 9113 §8.3), and
        // NIOHTTP2 would not send it. (Replacing the 101's status moved it behind any field the upstream added.)
        var headers: HPACKHeaders = [":status": "200"]
        for (name, value, indexing) in HTTP2ServerStream.responseHeaders(head) where !name.hasPrefix(":") && name != "sec-websocket-accept" {
            headers.add(name: name, value: value, indexing: indexing)
        }
        return headers
    }

    /// RFC 6455 §4.1: a nonce of 16 random bytes in base64.
    static func webSocketKey(_ random: inout FastRandom) -> String {
        let words = (random.next(), random.next())
        let nonce = (0..<16).map { UInt8(truncatingIfNeeded: (($0 < 8 ? words.0 : words.1) >> UInt64(8 * ($0 % 8)))) }
        return base64(nonce)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding (RFC 4648 §4).
    static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = UInt32(bytes[index]) << 16
            if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { group |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                out.append(position <= count ? alphabet[Int((group >> UInt32(18 - 6 * position)) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
