/// One entry of a VirtualService's `http` list: if any match holds, traffic goes to the weighted destinations.
public struct HTTPRoute: Hashable, Sendable {
    public var name: String?
    /// OR of matches; empty matches every request.
    public var matches: [RequestMatch]
    public var destinations: [WeightedDestination]

    public init(name: String? = nil, matches: [RequestMatch] = [], destinations: [WeightedDestination]) {
        self.name = name
        self.matches = matches
        self.destinations = destinations
    }
}
