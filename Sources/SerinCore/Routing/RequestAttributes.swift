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
        path = Self.prefix(of: target, upTo: UInt8(ascii: "?"), last: false)
        host = Self.host(ofAuthority: authority)
    }

    /// The host an authority names, without its port: an IPv6 literal with its brackets.
    @inline(__always)
    public static func host(ofAuthority authority: String) -> Substring {
        let literal = authority.utf8.first == UInt8(ascii: "[") ? prefix(of: authority, upTo: UInt8(ascii: "]"), last: false) : nil
        if let literal, literal.endIndex != authority.endIndex {
            return authority[...literal.endIndex]  // an IPv6 literal, brackets included
        }
        return prefix(of: authority, upTo: UInt8(ascii: ":"), last: true)
    }

    /// `text` up to the first (or the `last`) `byte`, an ASCII byte, or all of it. Every request asks this of its
    /// target and its authority: the bytes are searched in place and the offset taken as an index in one step, where
    /// a search through the UTF-8 view and a subscript checking for the start of a character cost several times more.
    @inline(__always)
    private static func prefix(of text: String, upTo byte: UInt8, last: Bool) -> Substring {
        let utf8 = text.utf8
        let found: Int?? = utf8.withContiguousStorageIfAvailable { bytes in
            last ? bytes.lastIndex(of: byte) : bytes.firstIndex(of: byte)
        }
        let end: String.Index?
        switch found {
        case .some(.some(let offset)): end = utf8.index(utf8.startIndex, offsetBy: offset)
        case .some(.none): end = nil
        case .none: end = last ? utf8.lastIndex(of: byte) : utf8.firstIndex(of: byte)
        }
        guard let end else { return Substring(text) }
        return Substring(utf8[..<end])
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
