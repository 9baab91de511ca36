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
///
/// Not generic over its headers: the gateway calls routing from another module, where a generic
/// `resolve` would run unspecialized; one existential call per header lookup is far cheaper.
/// Path and host are split out once, not once per route tried.
public struct RequestAttributes {
    public let method: String
    /// The request target as sent: path plus optional `?query`.
    public let target: String
    /// The Host header (or HTTP/2 :authority), port included if the client sent it.
    public let authority: String
    public let scheme: String
    public let headers: any RequestHeaderLookup
    /// The path without the query string: what Envoy matches `uri` against.
    public let path: Substring
    /// The host without a port, for host matching.
    public let host: Substring

    public init(method: String, target: String, authority: String, scheme: String = "http", headers: any RequestHeaderLookup) {
        self.method = method
        self.target = target
        self.authority = authority
        self.scheme = scheme
        self.headers = headers
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = target[..<mark]
        } else {
            path = target[...]
        }
        if authority.utf8.first == UInt8(ascii: "["), let close = authority.utf8.firstIndex(of: UInt8(ascii: "]")) {
            host = authority[...close]
        } else if let colon = authority.utf8.lastIndex(of: UInt8(ascii: ":")) {
            host = authority[..<colon]
        } else {
            host = authority[...]
        }
    }

    /// The port the authority names, if it names one: the service port a mesh request is for.
    public var port: Int? {
        let rest = authority[host.endIndex...]
        guard rest.utf8.first == UInt8(ascii: ":") else { return nil }
        return Int(rest.dropFirst())
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
