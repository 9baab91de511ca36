/// Istio's `Headers` on an HTTP route: header changes to a request before it is forwarded and to a response
/// before it is returned.
public struct RouteHeaders: Hashable, Sendable, Codable {
    public var request: HeaderOperations
    public var response: HeaderOperations

    public init(request: HeaderOperations = HeaderOperations(), response: HeaderOperations = HeaderOperations()) {
        self.request = request
        self.response = response
    }
}

/// Istio's `HeaderOperations`, applied in Envoy's order: `remove` first, then `set` (replacing every value of
/// the header), then `add` (appending one more value). Names are lower-case.
public struct HeaderOperations: Hashable, Sendable, Codable {
    public var set: [String: String]
    public var add: [String: String]
    public var remove: [String]
    /// The request's new Host, from a `set` or `add` of `host` or `:authority` (a `set` wins), kept out of `set` and
    /// `add`: Istio makes it the route's host rewrite, so it replaces the Host rather than adding a second one, gives
    /// way to `rewrite.authority`, and names the server where TLS sends the request's host (`RouteTable.Route.authority`).
    public var authority: String?

    public init(set: [String: String] = [:], add: [String: String] = [:], remove: [String] = [], authority: String? = nil) {
        self.set = set
        self.add = add
        self.remove = remove
        self.authority = authority
    }

    /// Whether applying these operations changes nothing.
    public var isEmpty: Bool { self.set.isEmpty && add.isEmpty && remove.isEmpty && authority == nil }
}
