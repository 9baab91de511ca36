/// `http[s]://host[:port][/prefix]`, where a Prometheus server's HTTP API lives: what `--prometheus` and a metric's or
/// MetricTemplate's `provider.address` take, checked by the one `problem(with:)`.
public struct PrometheusAddress: Hashable, Sendable {
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path prefix without a trailing slash, e.g. `/prometheus` behind a proxy; empty for none.
    public var prefix: String

    public init?(_ address: String) {
        // A space or a control character is no part of a URL (a slip in quoting, or two values run together).
        guard !address.unicodeScalars.contains(where: Self.isNeverInURL),
            let schemeEnd = address.firstRange(of: "://"), ["http", "https"].contains(address[..<schemeEnd.lowerBound])
        else {
            return nil
        }
        scheme = String(address[..<schemeEnd.lowerBound])
        let rest = address[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var prefix = String(rest[slash...])
        while prefix.hasSuffix("/") { prefix.removeLast() }
        // The server's root, not one of its API's paths (Serin adds `/api/v1/query`), nor a query or a fragment.
        guard Self.apiPath(in: prefix) == nil, !prefix.contains("?"), !prefix.contains("#") else { return nil }
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
    public var display: String { "\(scheme)://\(host):\(port)\(prefix)" }

    /// Why `text` is not a Prometheus server's URL, or nil when it is; the caller puts the flag or field in front:
    /// `expected an http:// or https:// URL like http://127.0.0.1:9090, got "ftp://prometheus:9090"`.
    public static func problem(with text: String) -> String? {
        guard PrometheusAddress(text) == nil else { return nil }
        if let api = apiPath(in: text) {
            return "expected the Prometheus server's URL, which Serin adds \(api) to, got \"\(text)\": give \"\(text[..<api.startIndex])\""
        }
        let space = text.unicodeScalars.contains(where: isNeverInURL) ? " (a URL has no spaces or control characters)" : ""
        return "expected an http:// or https:// URL like http://127.0.0.1:9090, got \"\(text)\"\(space)"
    }

    /// Where `text` goes on into Prometheus's HTTP API (`/api/v1/query`, `/graph`): a URL copied from a browser or a
    /// query, where the server's own is wanted.
    static func apiPath(in text: String) -> Substring? {
        for path in ["/api/v1", "/graph"] {
            if let found = text.firstRange(of: path), text[found.upperBound...].first.map({ $0 == "/" || $0 == "?" }) ?? true {
                return text[found.lowerBound...]
            }
        }
        return nil
    }

    static func isNeverInURL(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
    }
}
