/// Istio's `HTTPRewrite`: what the gateway changes in a request before forwarding it.
public struct HTTPRewrite: Hashable, Sendable, Codable {
    /// Replaces the part of the path that the matching `uri` match matched: a prefix match's prefix, an exact
    /// or regex match's whole path; a match without `uri` matches the prefix `/`, as in Envoy.
    public var uri: String?
    /// Replaces the Host (`:authority`) header.
    public var authority: String?

    public init(uri: String? = nil, authority: String? = nil) {
        self.uri = uri
        self.authority = authority
    }
}
