import NIOCore
import NIOHTTP1
import SerinCore

/// The heads a reverse proxy sends on: hop-by-hop fields removed, forwarding fields added, written
/// straight from the bytes that arrived.
enum ProxyHeaders {
    /// The request as it goes upstream, always HTTP/1.1 (upstream connections are pooled and kept alive):
    /// hop-by-hop fields removed (and any `Connection` names), `x-forwarded-for` extended with the client's
    /// address, `x-forwarded-proto` set, over the client's (`https` when the client's connection is TLS), the client's
    /// `x-forwarded-client-cert` removed, and an `x-request-id` generated when the head has none (or `freshRequestID`:
    /// in place of the client's, as Envoy replaces an external request's at the edge).
    /// `clientCertificate`: the `x-forwarded-client-cert` of the connection's verified client certificate, set in place
    /// of whatever the client sent (Istio gateways' `SANITIZE_SET`).
    static func writeUpstreamRequest(
        _ head: RequestHead, clientAddress: String?, overTLS: Bool, upgrade: String? = nil, clientCertificate: String? = nil,
        freshRequestID: Bool = false, random: inout FastRandom, to buffer: inout ByteBuffer
    ) {
        let fields = head.fields
        // The fixed text below is under 240 bytes (the request id's 32 digits included); the fields are written once,
        // and the `x-forwarded-for` values a second time in the extended field.
        let most = 240 + head.method.utf8.count + head.target.utf8.count + 2 * fields.writtenBytesBound
            + (clientAddress?.utf8.count ?? 0) + (upgrade?.utf8.count ?? 0) + (clientCertificate?.utf8.count ?? 0)
        buffer.writeHead(maximumBytes: most) { out in
            out.append(string: head.method)
            out.append(UInt8(ascii: " "))
            out.append(string: head.target)
            out.append(" HTTP/1.1\r\n")
            // The client's `x-forwarded-proto` is replaced, as Envoy does with no trusted hops (Istio's default): a
            // client on plain HTTP must not tell the backend it came over HTTPS. Its `x-forwarded-client-cert` is
            // dropped (Envoy's SANITIZE): no client may name the certificate a backend behind a MUTUAL server trusts.
            // At a gateway (a client address to forward), a client's `x-envoy-*` controls go too, as Envoy removes them
            // from an external request: a sidecar behind must not retry or time out as a client asks.
            let skipping = KnownField.hopByHop | KnownField.xForwardedProto.bit | KnownField.xForwardedClientCert.bit
                | KnownField.xEnvoyAttemptCount.bit | (clientAddress == nil ? 0 : KnownField.xForwardedFor.bit | KnownField.xEnvoy.bit)
                | (freshRequestID ? KnownField.xRequestID.bit : 0)
            let named = fields.connectionOptions.namedFields
            fields.write(to: &out, skipping: skipping, skippingNames: named)
            // `te` is hop-by-hop, but `trailers` among its codings says the client reads trailers: gRPC servers require
            // it, and it goes on alone, as Envoy sends it.
            if fields.contains(.te), namesTrailers(fields.values(.te)) {
                out.append("te: trailers\r\n")
            }
            if let clientAddress {
                out.append("x-forwarded-for: ")
                if fields.contains(.xForwardedFor) {
                    for value in fields.values(.xForwardedFor) {
                        out.append(string: value)
                        out.append(UInt8(ascii: ","), UInt8(ascii: " "))
                    }
                }
                out.append(string: clientAddress)
                out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            out.append(overTLS ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n")
            if let clientCertificate {
                out.append("x-forwarded-client-cert: ")
                out.append(string: clientCertificate)
                out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            // A request always leaves with an id: also when its `connection` named the client's.
            if freshRequestID || !fields.contains(.xRequestID) || !named.isEmpty && named.contains("x-request-id") {
                out.append("x-request-id: ")
                random.writeRequestID(to: &out)
                out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            if let upgrade { writeUpgrade(upgrade, to: &out) }
            // Last, so that a retry finds its digits at the head's end (`numberAttempt`).
            out.append("x-envoy-attempt-count: 1\r\n\r\n")
        }
    }

    /// Whether `te` values list `trailers` (RFC 9110 §10.1.4: `trailers, deflate;q=0.5`).
    private static func namesTrailers(_ values: [String]) -> Bool {
        values.contains { value in
            value.split(separator: ",").contains { ASCII.equal(String($0).trimmingBlanks.utf8, "trailers".utf8, ignoringCase: true) }
        }
    }

    /// The request head `writeUpstreamRequest` wrote, numbered as its `attempt` (2 for the first retry) in
    /// `x-envoy-attempt-count`, which Istio has Envoy's router set on every request it sends upstream.
    static func numberAttempt(_ attempt: Int, of head: inout ByteBuffer) {
        // The head ends `x-envoy-attempt-count: N\r\n\r\n`, N the attempt before this one.
        let previous = String(attempt - 1).utf8.count
        let end = head.writerIndex - 4
        let digits = Array(String(attempt).utf8)
        if digits.count == previous {
            head.setBytes(digits, at: end - previous)
        } else {
            head.moveWriterIndex(to: end - previous)
            head.writeBytes(digits)
            head.writeStaticString("\r\n\r\n")
        }
    }

    /// The two hop-by-hop fields a protocol switch keeps on both hops (RFC 9110 §7.8): under 40 bytes and `upgrade`.
    private static func writeUpgrade(_ upgrade: String, to out: inout HeadOutput) {
        out.append("connection: upgrade\r\nupgrade: ")
        out.append(string: upgrade)
        out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
    }

    /// The upstream's `101 Switching Protocols` as it goes to the client: hop-by-hop fields removed but the
    /// protocol switch itself, which the client's tunnel starts from.
    static func writeSwitchingProtocols(_ head: ResponseHead, to buffer: inout ByteBuffer) {
        let upgrade = head.fields.first(.upgrade)
        buffer.writeHead(maximumBytes: 64 + head.reason.utf8.count + head.fields.writtenBytesBound + (upgrade?.utf8.count ?? 0)) { out in
            out.append("HTTP/1.1 101 ")
            out.append(string: head.reason)
            out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            head.fields.write(to: &out, skipping: KnownField.hopByHop, skippingNames: head.fields.connectionOptions.namedFields)
            if let upgrade { writeUpgrade(upgrade, to: &out) }
            out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
        }
    }

    /// The response as it goes back to the client: hop-by-hop fields removed, keep-alive as the client
    /// wants, without `transfer-encoding` when the body is handed over decoded (an HTTP/1.0 client), and with
    /// `transfer-encoding: chunked` when the gateway frames one that ends with the upstream's connection (`chunked`).
    static func writeDownstreamResponse(
        _ head: ResponseHead, version: HTTPVersion, keepAlive: Bool, decodedBody: Bool, chunked: Bool = false, to buffer: inout ByteBuffer
    ) {
        // The fixed text is under 64 bytes, a status of any width included.
        buffer.writeHead(maximumBytes: 64 + head.reason.utf8.count + head.fields.writtenBytesBound) { out in
            out.append(version == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
            if (100...999).contains(head.status) {
                // Three digits written as bytes: no String made per response.
                let zero = UInt8(ascii: "0")
                out.append(zero + UInt8(head.status / 100), zero + UInt8(head.status / 10 % 10))
                out.append(zero + UInt8(head.status % 10), UInt8(ascii: " "))
            } else {
                out.append(string: String(head.status))
                out.append(UInt8(ascii: " "))
            }
            out.append(string: head.reason)
            out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            // A decoded body (a chunked answer to an HTTP/1.0 client) loses its trailers, and so the field announcing them.
            let skipping = KnownField.hopByHop | (decodedBody ? KnownField.transferEncoding.bit | KnownField.trailer.bit : 0)
                | head.withheldFraming
            head.fields.write(to: &out, skipping: skipping, skippingNames: head.fields.connectionOptions.namedFields)
            if chunked { out.append("transfer-encoding: chunked\r\n") }
            if !keepAlive {
                out.append("connection: close\r\n")
            } else if version == .http1_0 {
                out.append("connection: keep-alive\r\n")
            }
            out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
        }
    }
}
