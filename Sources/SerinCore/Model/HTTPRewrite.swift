/// Istio's `HTTPRewrite`: what the gateway changes in a request before forwarding it.
public struct HTTPRewrite: Hashable, Sendable, Codable {
    /// Replaces the part of the path that the matching `uri` match matched: a prefix match's prefix, an exact
    /// or regex match's whole path; a match without `uri` matches the prefix `/`, as in Envoy.
    public var uri: String?
    /// Replaces the Host (`:authority`) header.
    public var authority: String?
    /// `uriRegexRewrite`: every match of the pattern in the path (the query apart) becomes the substitution.
    public var uriRegex: RegexRewrite?

    public init(uri: String? = nil, authority: String? = nil, uriRegex: RegexRewrite? = nil) {
        self.uri = uri
        self.authority = authority
        self.uriRegex = uriRegex
    }
}

/// Istio's `RegexRewrite`, as Envoy's `regex_rewrite` applies it: in the path, each match of `match` becomes
/// `rewrite`, where `\1`… are the match's groups (`/service/([^/]+)(/.*)` → `\2/instance/\1`).
public struct RegexRewrite: Hashable, Sendable, Codable {
    public var match: RegexPattern
    public var rewrite: String

    public init(match: RegexPattern, rewrite: String) {
        self.match = match
        self.rewrite = rewrite
    }
}
