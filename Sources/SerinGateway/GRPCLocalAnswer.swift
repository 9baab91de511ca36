/// The gateway's own answer to a gRPC call (no route, no healthy upstream, a timeout, a fault abort), given as
/// Envoy gives it: HTTP 200 with the status in `grpc-status` and the reason in `grpc-message`, headers alone
/// (trailers-only). A gRPC client reads no text body, so a plain 404 or 503 reaches its caller as a status
/// mapped from HTTP's with the reason lost.
enum GRPCLocalAnswer {
    /// DEADLINE_EXCEEDED: the client's own deadline passed at the gateway.
    static let deadlineExceeded = 4

    /// Whether a request's `content-type` makes it a gRPC call: `application/grpc`, alone or with a `+codec` or
    /// parameters, and not gRPC-Web, which expects an HTTP/1 answer.
    static func isGRPC(contentType: String) -> Bool {
        let prefix = "application/grpc"
        var value = Substring(contentType)
        guard value.count >= prefix.count, value.prefix(prefix.count).lowercased() == prefix else { return false }
        value = value.dropFirst(prefix.count)
        guard let next = value.first else { return true }
        return next == "+" || next == ";" || next == " "
    }

    /// The gRPC status of an HTTP status, by gRPC's own table (doc/http-grpc-status-mapping.md), as Envoy maps
    /// its local replies: 404 is UNIMPLEMENTED (12); 429, 502, 503 and 504 are UNAVAILABLE (14); 400 INTERNAL (13),
    /// 401 UNAUTHENTICATED (16), 403 PERMISSION_DENIED (7); anything else UNKNOWN (2).
    static func status(forHTTP code: Int) -> Int {
        switch code {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
    }

    /// `text` as a `grpc-message` value: percent-encoded where it is not printable ASCII or is `%`, as the gRPC
    /// protocol says (its clients decode it), with no trailing line break.
    static func message(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8.reversed().drop(while: { $0 == 0x0A || $0 == 0x0D }).reversed() {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0x0F, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}

/// gRPC's `grpc-timeout` request header: the client's deadline, as 1 to 8 digits and a unit (`H`, `M`, `S`, `m`
/// for milliseconds, `u`, `n`), as the gRPC over HTTP/2 protocol writes it.
enum GRPCTimeout {
    /// The deadline `value` names; nil for anything else, which is ignored, as Envoy ignores a malformed one.
    static func parse(_ value: String) -> Duration? {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }
}
