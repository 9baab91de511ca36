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

    public init(set: [String: String] = [:], add: [String: String] = [:], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }

    /// Whether applying these operations changes nothing.
    public var isEmpty: Bool { self.set.isEmpty && add.isEmpty && remove.isEmpty }
}
