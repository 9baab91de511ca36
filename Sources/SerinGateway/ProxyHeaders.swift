import NIOCore
import NIOHTTP1
import SerinCore

/// The heads a reverse proxy sends on: hop-by-hop fields removed, forwarding fields added, written
/// straight from the bytes that arrived.
enum ProxyHeaders {
    /// The request as it goes upstream, always HTTP/1.1 (upstream connections are pooled and kept alive):
    /// hop-by-hop fields removed (and any `Connection` names), `x-forwarded-for` extended with the client's
    /// address, `x-forwarded-proto` set (`https` when the client's connection is TLS), and an `x-request-id`
    /// generated when the client sent none.
    static func writeUpstreamRequest(
        _ head: RequestHead, clientAddress: String?, overTLS: Bool, upgrade: String? = nil, random: inout FastRandom,
        to buffer: inout ByteBuffer
    ) {
        buffer.writeString(head.method)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(head.target)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        let fields = head.fields
        let skipping = KnownField.hopByHop | (clientAddress == nil ? 0 : KnownField.xForwardedFor.bit)
        fields.write(to: &buffer, skipping: skipping, skippingNames: fields.connectionOptions.namedFields)
        // `te` is hop-by-hop, but `te: trailers` says the client reads trailers: gRPC servers require it.
        if fields.contains(.te), fields.first(.te).map({ ASCII.equal($0.utf8, "trailers".utf8, ignoringCase: true) }) == true {
            buffer.writeStaticString("te: trailers\r\n")
        }
        if let clientAddress {
            buffer.writeStaticString("x-forwarded-for: ")
            for value in fields.values(.xForwardedFor) {
                buffer.writeString(value)
                buffer.writeStaticString(", ")
            }
            buffer.writeString(clientAddress)
            buffer.writeStaticString("\r\n")
        }
        if !fields.contains(.xForwardedProto) {
            buffer.writeStaticString(overTLS ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n")
        }
        if !fields.contains(.xRequestID) {
            buffer.writeStaticString("x-request-id: ")
            random.writeRequestID(to: &buffer)
            buffer.writeStaticString("\r\n")
        }
        if let upgrade { writeUpgrade(upgrade, to: &buffer) }
        buffer.writeStaticString("\r\n")
    }

    /// The two hop-by-hop fields a protocol switch keeps on both hops (RFC 9110 §7.8).
    private static func writeUpgrade(_ upgrade: String, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("connection: upgrade\r\nupgrade: ")
        buffer.writeString(upgrade)
        buffer.writeStaticString("\r\n")
    }

    /// The upstream's `101 Switching Protocols` as it goes to the client: hop-by-hop fields removed but the
    /// protocol switch itself, which the client's tunnel starts from.
    static func writeSwitchingProtocols(_ head: ResponseHead, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("HTTP/1.1 101 ")
        buffer.writeString(head.reason)
        buffer.writeStaticString("\r\n")
        head.fields.write(to: &buffer, skipping: KnownField.hopByHop, skippingNames: head.fields.connectionOptions.namedFields)
        if let upgrade = head.fields.first(.upgrade) { writeUpgrade(upgrade, to: &buffer) }
        buffer.writeStaticString("\r\n")
    }

    /// The response as it goes back to the client: hop-by-hop fields removed, keep-alive as the client
    /// wants, and without `transfer-encoding` when the body is handed over decoded (an HTTP/1.0 client).
    static func writeDownstreamResponse(
        _ head: ResponseHead, version: HTTPVersion, keepAlive: Bool, decodedBody: Bool, to buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString(version == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        if (100...999).contains(head.status) {
            // Three digits written as bytes: no String made per response.
            let zero = UInt8(ascii: "0")
            buffer.writeMultipleIntegers(
                zero + UInt8(head.status / 100), zero + UInt8(head.status / 10 % 10), zero + UInt8(head.status % 10), UInt8(ascii: " ")
            )
        } else {
            buffer.writeString(String(head.status))
            buffer.writeInteger(UInt8(ascii: " "))
        }
        buffer.writeString(head.reason)
        buffer.writeStaticString("\r\n")
        let skipping = KnownField.hopByHop | (decodedBody ? KnownField.transferEncoding.bit : 0)
        head.fields.write(to: &buffer, skipping: skipping, skippingNames: head.fields.connectionOptions.namedFields)
        if !keepAlive {
            buffer.writeStaticString("connection: close\r\n")
        } else if version == .http1_0 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }
}
