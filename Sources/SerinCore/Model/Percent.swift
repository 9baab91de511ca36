/// Istio's `Percent`: a share of requests from 0 to 100, fractions allowed (`0.5` is one request in two hundred),
/// for fault injection and mirroring.
public struct Percent: Hashable, Sendable, Codable {
    public var value: Double

    public init(_ value: Double) {
        self.value = value
    }

    /// Every request.
    public static let all = Percent(100)
    /// No request.
    public static let none = Percent(0)

    /// Whether a request whose draw, uniform in `0..<100`, falls in this share.
    /// Pure: the caller supplies the randomness, as for `RouteTable.Route.target(forRoll:)`.
    public func includes(draw: Double) -> Bool {
        draw < value
    }
}
