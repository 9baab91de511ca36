/// One `match` entry of an Istio HTTP route: every condition set in it must hold (AND).
public struct RequestMatch: Hashable, Sendable, Codable, SourceMatched {
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
    /// The workloads whose requests the match applies to (`sourceLabels`, `sourceNamespace`); nil: any.
    public var source: SourceCondition?

    public init(
        name: String? = nil, uri: StringMatch? = nil, scheme: StringMatch? = nil,
        method: StringMatch? = nil, authority: StringMatch? = nil,
        headers: [String: StringMatch] = [:], withoutHeaders: [String: StringMatch] = [:],
        queryParams: [String: StringMatch] = [:], ignoreUriCase: Bool = false,
        gateways: [ResourceName] = [], port: Int? = nil, source: SourceCondition? = nil
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
        self.source = source
    }

    /// Whether some condition narrows this entry: without one (only a name, or `ignoreUriCase`), every request matches.
    public var narrows: Bool {
        uri != nil || scheme != nil || method != nil || authority != nil || !headers.isEmpty || !withoutHeaders.isEmpty
            || !queryParams.isEmpty || !gateways.isEmpty || port != nil || source != nil
    }

    /// Whether the conditions written hold for every request all the same: only a request's own parts (path, method,
    /// authority, scheme), each matched by what any value of it satisfies (`prefix: /` for a path, `regex: .*`).
    public var admitsEveryRequest: Bool {
        guard narrows, headers.isEmpty, withoutHeaders.isEmpty, queryParams.isEmpty, gateways.isEmpty, port == nil, source == nil else {
            return false
        }
        func always(_ match: StringMatch?, emptyPrefix: String) -> Bool {
            switch match {
            case nil, .present?: return true
            case .prefix(let prefix)?: return prefix.isEmpty || prefix == emptyPrefix
            case .regex(let pattern)?: return [".*", ".+", "^.*$", "(.*)"].contains(pattern.source)
            case .exact?: return false
            }
        }
        return always(uri, emptyPrefix: "/") && always(method, emptyPrefix: "") && always(authority, emptyPrefix: "")
            && always(scheme, emptyPrefix: "")
    }
}
