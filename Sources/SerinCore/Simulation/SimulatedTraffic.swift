import RealModule

/// Synthetic traffic for trying a Canary before it meets real traffic: how many requests arrive, how many of each
/// version's fail, and how long they take, drawn from a seeded generator so a run can be repeated exactly. Constant
/// by default; a list of segments makes it change over the release, as a recorded rollout's traffic did.
public struct SimulatedTraffic: Sendable, Equatable {
    /// How one version behaves.
    public struct Version: Sendable, Equatable {
        /// The fraction of requests that fail (0.05 = 5%).
        public var errorRate: Double
        /// The median request duration; durations are log-normal around it.
        public var medianMilliseconds: Double
        /// The spread of log durations: 0.5 puts p99 near 3.2× the median, a typical service tail.
        public var logSpread: Double

        public init(errorRate: Double, medianMilliseconds: Double, logSpread: Double = 0.5) {
            self.errorRate = errorRate
            self.medianMilliseconds = medianMilliseconds
            self.logSpread = logSpread
        }

        /// The median whose log-normal durations with `logSpread` have `p99Milliseconds` as their 99th
        /// percentile: a measured p99 turned into this model's terms.
        public static func median(p99Milliseconds: Double, logSpread: Double) -> Double {
            p99Milliseconds / .exp(logSpread * SimulatedTraffic.p99Score)
        }
    }

    /// The traffic from `from` (time since the release started) until the next segment's.
    public struct Segment: Sendable, Equatable {
        public var from: Duration
        /// Requests a second to the service, split between the versions by the canary weight.
        public var requestsPerSecond: Double
        public var stable: Version
        public var canary: Version

        public init(from: Duration, requestsPerSecond: Double, stable: Version, canary: Version) {
            self.from = from
            self.requestsPerSecond = requestsPerSecond
            self.stable = stable
            self.canary = canary
        }
    }

    /// Which version a sample is drawn for.
    public enum Side: Sendable {
        case stable, canary
    }

    /// Oldest first. The first is in force from the start whatever its `from`, the last until the end.
    public private(set) var segments: [Segment]

    /// The same traffic all along.
    public init(requestsPerSecond: Double, stable: Version, canary: Version) {
        segments = [Segment(from: .zero, requestsPerSecond: requestsPerSecond, stable: stable, canary: canary)]
    }

    /// Traffic that changes at each segment's `from`, in any order (of two from the same time, the later in the
    /// list); nil without segments.
    public init?(segments: [Segment]) {
        guard !segments.isEmpty else { return nil }
        self.segments = segments.enumerated().sorted { ($0.element.from, $0.offset) < ($1.element.from, $1.offset) }.map(\.element)
    }

    /// The segment in force `elapsed` after the start.
    public func segment(at elapsed: Duration) -> Segment {
        segments.last { $0.from <= elapsed } ?? segments[0]
    }

    /// What one version served over the `window` ending `elapsed` after the start, while it had `percent` of the
    /// traffic; the whole window is drawn from the segment in force at its end.
    public func sample(
        _ side: Side, percent: Double, window: Duration, endingAt elapsed: Duration, using generator: inout SplitMix64
    ) -> MetricSample {
        let segment = segment(at: elapsed)
        let version = side == .canary ? segment.canary : segment.stable
        let seconds = window.inSeconds
        let requests = generator.poisson(mean: segment.requestsPerSecond * percent / 100 * seconds)
        let failures = generator.binomial(trials: requests, probability: version.errorRate)
        let p99 = requests > 0 ? version.medianMilliseconds * .exp(version.logSpread * Self.normalP99(of: requests, using: &generator)) : nil
        let latency = LatencyHistogram(
            bounds: LatencyHistogram.istioBounds, counts: Self.bucketCounts(version, requests: requests, using: &generator))
        return MetricSample(requests: requests, failures: failures, p99Milliseconds: p99, latency: latency, window: window)
    }

    /// `requests` log-normal durations counted into Istio's buckets: one binomial draw per bucket for its share of
    /// what the buckets below left (a multinomial, drawn in order).
    static func bucketCounts(_ version: Version, requests: Int, using generator: inout SplitMix64) -> [Int] {
        var counts: [Int] = []
        var (left, below) = (requests, 0.0)
        for bound in LatencyHistogram.istioBounds {
            let cumulative = standardNormalCDF(.log(bound / version.medianMilliseconds) / version.logSpread)
            let share = below < 1 ? min(1, max(0, (cumulative - below) / (1 - below))) : 0
            let count = generator.binomial(trials: left, probability: share)
            counts.append(count)
            left -= count
            below = cumulative
        }
        counts.append(left)
        return counts
    }

    /// z₀.₉₉, the standard normal's 99th percentile.
    static let p99Score = 2.326_347_874_040_841

    static func standardNormalCDF(_ x: Double) -> Double {
        0.5 * .erfc(-x / 2.0.squareRoot())
    }

    /// The 99th percentile of `count` standard normal draws. Few are drawn and sorted; for many, the percentile is
    /// itself close to normal around z₀.₉₉ with sd √(0.99·0.01/n) / φ(z₀.₉₉), drawn at once.
    static func normalP99(of count: Int, using generator: inout SplitMix64) -> Double {
        guard count > 200 else {
            let draws = (0..<count).map { _ in generator.standardNormal() }.sorted()
            return draws[Int((Double(count) * 0.99).rounded(.up)) - 1]
        }
        let (z, density) = (p99Score, 0.026_652_142_203_458_05)
        return z + (0.99 * 0.01 / Double(count)).squareRoot() / density * generator.standardNormal()
    }
}

/// The draws the simulation needs, from one seeded generator, so the same seed gives the same rollouts.
extension SplitMix64 {
    /// Uniform in (0, 1).
    public mutating func uniform() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }

    /// Box–Muller.
    public mutating func standardNormal() -> Double {
        (-2 * .log(uniform())).squareRoot() * .cos(2 * .pi * uniform())
    }

    /// Knuth's product method for small means; a rounded normal beyond, where the two agree closely.
    mutating func poisson(mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 50 { return max(0, Int((mean + mean.squareRoot() * standardNormal()).rounded())) }
        let limit = Double.exp(-mean)
        var (count, product) = (0, uniform())
        while product > limit {
            count += 1
            product *= uniform()
        }
        return count
    }

    /// Exact for few trials; normal where the variance is large, Poisson where failures are rare.
    mutating func binomial(trials: Int, probability: Double) -> Int {
        guard trials > 0, probability > 0 else { return 0 }
        guard probability < 1 else { return trials }
        if probability > 0.5 { return trials - binomial(trials: trials, probability: 1 - probability) }
        if trials <= 200 { return (0..<trials).count { _ in uniform() < probability } }
        let (n, p) = (Double(trials), probability)
        if n * p * (1 - p) > 25 {
            return min(trials, max(0, Int((n * p + (n * p * (1 - p)).squareRoot() * standardNormal()).rounded())))
        }
        return min(trials, poisson(mean: n * p))
    }
}
