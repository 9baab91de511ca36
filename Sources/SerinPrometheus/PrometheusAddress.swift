/// `http[s]://host[:port][/prefix]`, where a Prometheus server's HTTP API lives.
struct PrometheusAddress: Hashable, Sendable {
    var scheme: String
    var host: String
    var port: Int
    /// Path prefix without a trailing slash, e.g. `/prometheus` behind a proxy; empty for none.
    var prefix: String

    init?(_ address: String) {
        guard let schemeEnd = address.firstRange(of: "://"), ["http", "https"].contains(address[..<schemeEnd.lowerBound]) else {
            return nil
        }
        scheme = String(address[..<schemeEnd.lowerBound])
        let rest = address[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var prefix = String(rest[slash...])
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.prefix = prefix
        // The last colon outside an IPv6 literal's brackets starts the port.
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = scheme == "https" ? 443 : 80
        }
        if host.isEmpty || host.contains("@") { return nil }
    }

    /// `scheme://host:port/prefix`, as messages show it.
    var display: String { "\(scheme)://\(host):\(port)\(prefix)" }

    /// The URL of an API path, e.g. `/api/v1/query?query=...`.
    func url(_ path: String) -> String { display + path }

    /// RFC 3986 percent-encoding of everything but unreserved characters, for a query parameter value.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0x0F)])"
            }
        }
        return out
    }
}
