/// A host name as Istio writes it in Gateway servers and VirtualServices: exact, `*.suffix`, or `*`.
public struct HostPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String
    private let suffix: Substring?

    public init(_ text: String) {
        self.text = text.lowercased()
        if self.text == "*" {
            suffix = ""
        } else if self.text.hasPrefix("*") {
            suffix = self.text.dropFirst()
        } else {
            suffix = nil
        }
    }

    public var isWildcard: Bool { suffix != nil }

    /// A wildcard's suffix (`.example.com` of `*.example.com`, empty for `*`); nil for an exact name.
    var wildcardSuffix: Substring? { suffix }

    /// Envoy's rule: `*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`.
    public func matches<S: StringProtocol>(_ host: S) -> Bool {
        guard let suffix else { return ASCII.equal(host.utf8, text.utf8, ignoringCase: true) }
        if suffix.isEmpty { return true }
        return host.utf8.count > suffix.utf8.count && ASCII.hasSuffix(host.utf8, suffix.utf8, ignoringCase: true)
    }

    /// Larger is more specific: exact names beat wildcards, longer wildcards beat shorter ones.
    public var specificity: Int {
        guard let suffix else { return Int.max }
        return suffix.count
    }

    /// Whether some host could match both patterns (used to bind VirtualService hosts to Gateway servers).
    public func overlaps(_ other: HostPattern) -> Bool {
        switch (suffix, other.suffix) {
        case (nil, nil): return text == other.text
        case (nil, _): return other.matches(text)
        case (_, nil): return matches(other.text)
        case (let mine?, let theirs?): return mine.hasSuffix(theirs) || theirs.hasSuffix(mine)
        }
    }

    /// Whether every host `other` matches, this matches too: `*.example.com` covers `db.example.com` and
    /// `*.apps.example.com`; `db.example.com` covers only itself.
    public func covers(_ other: HostPattern) -> Bool {
        guard let suffix else { return other.suffix == nil && text == other.text }
        guard let theirs = other.suffix else { return matches(other.text) }
        return suffix.isEmpty || (theirs.count >= suffix.count && theirs.hasSuffix(suffix))
    }

    public var description: String { text }

    /// Strips a Gateway server host's `namespace/` prefix (`./*`, `prod/*.example.com`).
    public static func gatewayServerHost(_ text: String) -> (namespace: String?, pattern: HostPattern) {
        guard let slash = text.firstIndex(of: "/") else { return (nil, HostPattern(text)) }
        let namespace = String(text[..<slash])
        return (namespace, HostPattern(String(text[text.index(after: slash)...])))
    }
}
