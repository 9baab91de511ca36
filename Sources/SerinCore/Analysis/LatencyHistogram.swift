import RealModule

/// How one version's request durations spread over a window, as bucket counts: what the gateway and Prometheus
/// both hold (`istio_request_duration_milliseconds_bucket`), so the statistical judge can compare canary and stable
/// distributions and not just one p99 each.
public struct LatencyHistogram: Hashable, Sendable, Codable {
    /// Upper bounds of the buckets in milliseconds, ascending; a final `+Inf` bucket follows them.
    public private(set) var bounds: [Double]
    /// Requests per bucket, not cumulative: `counts[i]` took at most `bounds[i]` and more than `bounds[i - 1]`;
    /// the last entry (`counts[bounds.count]`) took longer than every bound.
    public private(set) var counts: [Int]

    /// Istio's default bounds for `istio_request_duration_milliseconds`, which Serin's gateway exports too.
    public static let istioBounds: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1_800_000, 3_600_000,
    ]

    /// Nil when the counts do not fit the bounds (one more count than bounds, none negative) or the bounds do not
    /// ascend: a provider's malformed answer, which the judge treats as no histogram.
    public init?(bounds: [Double], counts: [Int]) {
        guard counts.count == bounds.count + 1, counts.allSatisfy({ $0 >= 0 }),
            zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }), bounds.allSatisfy({ $0.isFinite && $0 >= 0 })
        else { return nil }
        self.bounds = bounds
        self.counts = counts
    }

    /// Decodes what `init?(bounds:counts:)` accepts and nothing else, so a stored or received histogram cannot
    /// index past its counts.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let bounds = try container.decode([Double].self, forKey: .bounds)
        let counts = try container.decode([Int].self, forKey: .counts)
        guard let histogram = LatencyHistogram(bounds: bounds, counts: counts) else {
            throw DecodingError.dataCorruptedError(
                forKey: .counts, in: container, debugDescription: "not a histogram: \(bounds) with counts \(counts)")
        }
        self = histogram
    }

    /// Requests counted.
    public var total: Int { counts.reduce(0, +) }

    /// Requests that took longer than `milliseconds`: exact at a bound; between two bounds, the bucket's count is
    /// taken as spread evenly in log time across it (durations are closer to log-normal than to uniform), and
    /// the share above `milliseconds` is counted. Above the last bound every `+Inf` request counts, since how far
    /// beyond it they went is unknown.
    public func countAbove(_ milliseconds: Double) -> Double {
        var above = 0.0
        var lower = 0.0
        for (index, upper) in bounds.enumerated() {
            let count = Double(counts[index])
            // Nothing of a bucket at or below `milliseconds`, checked first so that one bounded at 0 ms is not above 0.
            if milliseconds < upper {
                above += milliseconds <= lower ? count : count * Self.shareAbove(milliseconds, lower: lower, upper: upper)
            }
            lower = upper
        }
        return above + Double(counts[bounds.count])
    }

    /// The duration below which `fraction` of the requests fell, interpolated within its bucket as `countAbove`
    /// spreads them; nil with no requests, and the last bound when the quantile lies in the `+Inf` bucket.
    public func quantile(_ fraction: Double) -> Double? {
        let total = self.total
        guard total > 0 else { return nil }
        let rank = fraction * Double(total)
        var below = 0.0
        var lower = 0.0
        for (index, upper) in bounds.enumerated() {
            let count = Double(counts[index])
            if count > 0, below + count >= rank {
                let within = (rank - below) / count
                return Self.interpolate(within, lower: lower, upper: upper)
            }
            below += count
            lower = upper
        }
        return bounds.last
    }

    /// Adds another histogram over the same bounds (two windows, or two pods); nil when the bounds differ.
    public func adding(_ other: LatencyHistogram) -> LatencyHistogram? {
        guard other.bounds == bounds else { return nil }
        return LatencyHistogram(bounds: bounds, counts: zip(counts, other.counts).map { $0 + $1 })
    }

    /// The fraction of a bucket's log-time span above `value`; the first bucket (from 0) is taken linearly.
    static func shareAbove(_ value: Double, lower: Double, upper: Double) -> Double {
        guard lower > 0 else { return (upper - value) / upper }
        return Double.log(upper / value) / Double.log(upper / lower)
    }

    /// The point `within` (0...1) of the way through a bucket, the inverse of `shareAbove`.
    static func interpolate(_ within: Double, lower: Double, upper: Double) -> Double {
        guard lower > 0 else { return upper * within }
        return lower * Double.exp(within * Double.log(upper / lower))
    }
}
