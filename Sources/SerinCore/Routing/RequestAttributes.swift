/// Read access to request headers, so the gateway can route on its own header storage without copying.
public protocol RequestHeaderLookup {
    /// The first value of the header, by lower-case name.
    func firstValue(forHeader lowercasedName: String) -> String?
}

/// Headers as a plain list, for tests and for `serin route`.
public struct HeaderList: RequestHeaderLookup, Sendable {
    public var entries: [(name: String, value: String)]

    public init(_ entries: [(name: String, value: String)] = []) { self.entries = entries }

    public func firstValue(forHeader lowercasedName: String) -> String? {
        entries.first { $0.name.lowercased() == lowercasedName }?.value
    }
}

/// What routing looks at in a request.
public struct RequestAttributes<Headers: RequestHeaderLookup> {
    public var method: String
    /// The request target as sent: path plus optional `?query`.
    public var target: String
    /// The Host header (or HTTP/2 :authority), port included if the client sent it.
    public var authority: String
    public var scheme: String
    public var headers: Headers

    public init(method: String, target: String, authority: String, scheme: String = "http", headers: Headers) {
        self.method = method
        self.target = target
        self.authority = authority
        self.scheme = scheme
        self.headers = headers
    }

    /// The path without the query string: what Envoy matches `uri` against.
    public var path: Substring {
        if let mark = target.firstIndex(of: "?") { return target[..<mark] }
        return target[...]
    }

    /// The host without a port, for host matching.
    public var host: Substring {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return authority[...close]
        }
        if let colon = authority.lastIndex(of: ":") { return authority[..<colon] }
        return authority[...]
    }

    /// The first value of query parameter `name`, percent-decoding not applied (as Envoy).
    public func queryValue(_ name: String) -> String? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        for pair in target[target.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }
}
