/// Cumulative request-duration histogram with Istio's default buckets, so exported series line up
/// with `istio_request_duration_milliseconds` queries and dashboards.
public struct LatencyHistogram: Hashable, Sendable, Codable {
    /// Upper bounds in milliseconds (Istio's defaults); a final implicit `+Inf` bucket follows.
    public static let bounds: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
        1_800_000, 3_600_000,
    ]

    /// Non-cumulative counts per bucket; the last entry is the `+Inf` overflow.
    public private(set) var counts: [Int] = Array(repeating: 0, count: LatencyHistogram.bounds.count + 1)
    public private(set) var sum: Double = 0
    public private(set) var count: Int = 0

    public init() {}

    public mutating func record(milliseconds: Double) {
        var index = Self.bounds.count
        for (offset, bound) in Self.bounds.enumerated() where milliseconds <= bound {
            index = offset
            break
        }
        counts[index] += 1
        sum += milliseconds
        count += 1
    }

    /// Removes `earlier`'s counts (a window: now minus then).
    public mutating func subtract(_ earlier: LatencyHistogram) {
        for index in counts.indices { counts[index] -= earlier.counts[index] }
        sum -= earlier.sum
        count -= earlier.count
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        sum += other.sum
        count += other.count
    }
}
