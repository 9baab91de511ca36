/// Istio's `HTTPRedirect`: the gateway answers with a 3xx pointing at a changed URL instead of forwarding.
/// Each part left nil keeps the request's own.
public struct HTTPRedirect: Hashable, Sendable, Codable {
    /// Replaces the whole path of the URL, whatever the route matched.
    public var uri: String?
    /// Replaces the host (and port, when it carries one) of the URL.
    public var authority: String?
    public var scheme: Scheme?
    /// Replaces the port of the URL.
    public var port: Int?
    /// Derives the port instead of naming it; never set together with `port`.
    public var derivePort: DerivePort?
    /// One of `redirectCodes`; Istio's default is 301.
    public var redirectCode: Int

    /// The statuses a redirect may answer with: the ones Envoy's redirect action can send.
    public static let redirectCodes: [Int] = [301, 302, 303, 307, 308]

    public init(
        uri: String? = nil, authority: String? = nil, scheme: Scheme? = nil, port: Int? = nil,
        derivePort: DerivePort? = nil, redirectCode: Int = 301
    ) {
        self.uri = uri
        self.authority = authority
        self.scheme = scheme
        self.port = port
        self.derivePort = derivePort
        self.redirectCode = redirectCode
    }

    /// The schemes Istio allows a redirect to.
    public enum Scheme: String, Hashable, Sendable, Codable, CaseIterable {
        case http
        case https
    }

    /// Istio's `derivePort`.
    public enum DerivePort: String, Hashable, Sendable, Codable, CaseIterable {
        /// 80 for http, 443 for https: the port is left out of the URL.
        case fromProtocolDefault = "FROM_PROTOCOL_DEFAULT"
        /// The port the request arrived on.
        case fromRequestPort = "FROM_REQUEST_PORT"
    }
}
