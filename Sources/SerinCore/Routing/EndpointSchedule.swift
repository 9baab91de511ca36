/// The order in which a cluster's endpoints take their turns when their weights differ (a ServiceEntry endpoint's
/// `weight`): each endpoint as often as its weight says, spread out rather than in runs (smooth weighted round robin,
/// as nginx interleaves its upstreams' weights), so weights 3 and 1 take turns A A B A, not A A A B. Equal weights
/// need no schedule: the endpoints take their turns in order.
public struct EndpointSchedule: Hashable, Sendable, Codable {
    /// One endpoint index per turn; empty when every weight is the same.
    public let order: [Int]

    /// The most turns a schedule holds: weights whose sum (after dividing by their greatest common divisor) is larger
    /// are scaled down to it, each endpoint keeping at least one turn.
    public static let maxLength = 1024

    /// No schedule: the endpoints take their turns in order.
    public static let inOrder = EndpointSchedule(weights: [])

    public init(weights: [Int]) {
        let weights = weights.map { max($0, 1) }
        guard let first = weights.first, weights.contains(where: { $0 != first }) else {
            order = []
            return
        }
        let divisor = weights.reduce(0, Self.gcd)
        var scaled = weights.map { $0 / divisor }
        let total = scaled.reduce(0, +)
        if total > Self.maxLength {
            scaled = scaled.map { max(1, $0 * Self.maxLength / total) }
        }
        // Smooth weighted round robin: each turn every endpoint gains its weight, the one ahead takes the turn and
        // gives back the total.
        let sum = scaled.reduce(0, +)
        var current = Array(repeating: 0, count: scaled.count)
        var order: [Int] = []
        order.reserveCapacity(sum)
        for _ in 0..<sum {
            var best = 0
            for index in scaled.indices {
                current[index] += scaled[index]
                if current[index] > current[best] { best = index }
            }
            current[best] -= sum
            order.append(best)
        }
        self.order = order
    }

    /// The endpoint for round-robin turn `turn` among `count` endpoints.
    @inlinable
    public func endpoint(forTurn turn: Int, count: Int) -> Int {
        order.isEmpty ? Int(turn.magnitude % UInt(count)) : order[Int(turn.magnitude % UInt(order.count))]
    }

    /// The endpoint for `turn` that `isOut` does not rule out: the turn's own, else the next in the schedule's order
    /// that is in. Nil when every endpoint is out.
    public func endpoint(forTurn turn: Int, count: Int, skipping isOut: (Int) -> Bool) -> Int? {
        guard count > 0 else { return nil }
        let length = order.isEmpty ? count : order.count
        for step in 0..<length {
            let candidate = endpoint(forTurn: turn &+ step, count: count)
            if !isOut(candidate) { return candidate }
        }
        return nil
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int {
        b == 0 ? a : gcd(b, a % b)
    }
}
