import SerinCore

/// A cumulative histogram with Istio's default buckets, so exported series line up with
/// `istio_request_duration_milliseconds` and `istio_request_bytes` queries and dashboards.
public struct Histogram: Hashable, Sendable, Codable {
    /// Request duration bounds in milliseconds (Istio's defaults), the ones the judges' histograms use.
    public static let durationBounds = LatencyHistogram.istioBounds
    /// Request and response size bounds in bytes (Istio's defaults: powers of ten up to 10^8).
    public static let sizeBounds: [Double] = [1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// Upper bounds of the buckets; a final implicit `+Inf` bucket follows.
    public let bounds: [Double]
    /// Non-cumulative counts per bucket; the last entry is the `+Inf` overflow.
    public private(set) var counts: [Int]
    public private(set) var sum: Double = 0
    public private(set) var count: Int = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    public mutating func record(_ value: Double) {
        var index = bounds.count
        for (offset, bound) in bounds.enumerated() where value <= bound {
            index = offset
            break
        }
        counts[index] += 1
        sum += value
        count += 1
    }

    /// Removes `earlier`'s counts (a window: now minus then).
    public mutating func subtract(_ earlier: Histogram) {
        for index in counts.indices { counts[index] -= earlier.counts[index] }
        sum -= earlier.sum
        count -= earlier.count
    }

    public mutating func merge(_ other: Histogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        sum += other.sum
        count += other.count
    }
}
