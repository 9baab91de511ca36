/// One `match` entry of an Istio HTTP route: every condition set in it must hold (AND).
public struct RequestMatch: Hashable, Sendable, Codable {
    public var name: String?
    public var uri: StringMatch?
    public var scheme: StringMatch?
    public var method: StringMatch?
    public var authority: StringMatch?
    /// Keyed by lower-case header name.
    public var headers: [String: StringMatch]
    public var withoutHeaders: [String: StringMatch]
    public var queryParams: [String: StringMatch]
    public var ignoreUriCase: Bool
    /// Gateways this match is limited to (`namespace/name`); empty means the VirtualService's own.
    public var gateways: [ResourceName]
    public var port: Int?

    public init(
        name: String? = nil, uri: StringMatch? = nil, scheme: StringMatch? = nil,
        method: StringMatch? = nil, authority: StringMatch? = nil,
        headers: [String: StringMatch] = [:], withoutHeaders: [String: StringMatch] = [:],
        queryParams: [String: StringMatch] = [:], ignoreUriCase: Bool = false,
        gateways: [ResourceName] = [], port: Int? = nil
    ) {
        self.name = name
        self.uri = uri
        self.scheme = scheme
        self.method = method
        self.authority = authority
        self.headers = headers
        self.withoutHeaders = withoutHeaders
        self.queryParams = queryParams
        self.ignoreUriCase = ignoreUriCase
        self.gateways = gateways
        self.port = port
    }

    /// Whether some condition narrows this entry: without one (only a name, or `ignoreUriCase`), every request matches.
    public var narrows: Bool {
        uri != nil || scheme != nil || method != nil || authority != nil || !headers.isEmpty || !withoutHeaders.isEmpty
            || !queryParams.isEmpty || !gateways.isEmpty || port != nil
    }
}
