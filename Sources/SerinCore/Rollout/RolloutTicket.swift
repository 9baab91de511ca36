/// Names one request the rollout is waiting on (a webhook run or an analysis), so a late answer to a
/// request the rollout has since moved past is recognised and refused instead of being mistaken for a new one.
public struct RolloutTicket: Hashable, Sendable, Codable, CustomStringConvertible {
    public var number: Int

    public init(_ number: Int) {
        self.number = number
    }

    public var description: String { "#\(number)" }
}
