import RealModule

/// The Mann-Whitney U test of canary against stable latency over one fixed window, as Netflix's Kayenta judges a
/// canary: ranks every request of both versions together and asks whether the canary's sit higher than chance
/// allows. It looks once, at the end of the window, so it is not safe to check again and again; Serin keeps it as
/// the benchmark its sequential latency comparison is measured against.
///
/// Requests in one bucket are indistinguishable, so they tie and share their midrank; the variance is corrected for
/// those ties and the p-value is the normal approximation with a continuity correction (scipy's `mannwhitneyu` with
/// `method="asymptotic", use_continuity=True, alternative="greater"`).
public struct MannWhitney: Sendable, Equatable {
    /// U of the canary: the pairs (canary request, stable request) where the canary's was slower, ties counting half.
    public let u: Double
    /// (U − its mean − ½) over its tie-corrected standard deviation; −∞ when every request fell in one bucket.
    public let z: Double
    /// One-sided p-value for "the canary is slower than the stable": the standard normal tail above `z`.
    public let pValue: Double
    /// The chance a canary request is slower than a stable one, ties counting half: U / (canary × stable requests).
    public let effectSize: Double

    /// Nil when either histogram has no requests or their bounds differ.
    public init?(canary: LatencyHistogram, stable: LatencyHistogram) {
        guard canary.bounds == stable.bounds else { return nil }
        let canaryTotal = Double(canary.total)
        let stableTotal = Double(stable.total)
        guard canaryTotal > 0, stableTotal > 0 else { return nil }
        var u = 0.0
        var stableBelow = 0.0
        var tieTerm = 0.0
        for (canaryCount, stableCount) in zip(canary.counts, stable.counts) {
            let (c, s) = (Double(canaryCount), Double(stableCount))
            // Each canary request here beats every stable request in lower buckets and ties with this bucket's.
            u += c * (stableBelow + s / 2)
            stableBelow += s
            let tied = c + s
            tieTerm += tied * (tied * tied - 1)
        }
        let pairs = canaryTotal * stableTotal
        let all = canaryTotal + stableTotal
        let variance = pairs / 12 * ((all + 1) - tieTerm / (all * (all - 1)))
        self.u = u
        effectSize = u / pairs
        // One bucket holding every request leaves no spread: the corrected statistic is −½ / 0.
        let singleBucket = zip(canary.counts, stable.counts).contains { Double($0 + $1) == all }
        z = singleBucket || variance <= 0 ? -.infinity : (u - pairs / 2 - 0.5) / variance.squareRoot()
        pValue = Double.erfc(z / 2.squareRoot()) / 2
    }
}
