/// Istio's `mirror` with its `mirrorPercentage`: a copy of a share of a route's requests also goes to another
/// destination, fire-and-forget; its responses are dropped.
public struct HTTPMirrorPolicy: Hashable, Sendable, Codable {
    public var destination: Destination
    /// Istio's default, when `mirrorPercentage` is not written, is every request.
    public var percentage: Percent

    public init(destination: Destination, percentage: Percent = .all) {
        self.destination = destination
        self.percentage = percentage
    }
}
