import RealModule

/// Evidence, gathered window by window over a release, that the canary fails more often than the stable by more
/// than a tolerated factor — an e-process: its value ever reaching 1/α has probability at most α while the canary
/// is in fact within the tolerance, however many windows are looked at.
///
/// It compares where the failures land rather than each version's level. In a window where the canary served
/// `n_c` requests and the stable `n_s`, and `F` failed in all, each failure is the canary's with probability
/// θ(ρ) = n_c·ρ / (n_c·ρ + n_s), where ρ is the ratio of their failure rates (rare failures from two
/// independent streams; exact for Poisson counts). That leaves one unknown, ρ, whatever both levels are: an outage
/// that fails both versions alike moves nothing, and weights that change between windows only change θ. Against
/// the null ρ = ρ₀ (the tolerated ratio), each ρ above it gives a likelihood ratio over the windows seen; their
/// average over a grid of ρ (evenly spaced in log ρ from ρ₀ to 100·ρ₀) is the evidence. Each of those ratios is a
/// supermartingale under every ρ ≤ ρ₀ (the binomial's likelihood ratio is monotone), so the average is too.
public struct FailureRatioEvidence: Sendable, Equatable, Codable {
    /// How many times the stable's failure rate the canary's may be (1.5 = half again as many failures).
    public let toleratedRatio: Double
    /// Per alternative ratio, the log likelihood ratio against the tolerated one, summed over windows.
    private var logRatios: [Double]
    /// Failures seen in all windows, per version, for the verdict's numbers.
    public private(set) var canaryFailures = 0
    public private(set) var stableFailures = 0
    public private(set) var canaryRequests = 0
    public private(set) var stableRequests = 0

    /// The alternatives: ρ₀·e^u for u evenly spaced over (0, log 100].
    static let alternativeLogFactors: [Double] = (1...40).map { Double($0) / 40 * .log(100) }

    public init(toleratedRatio: Double) {
        precondition(toleratedRatio >= 1, "a tolerated failure ratio below 1 would call a canary as good as the stable worse")
        self.toleratedRatio = toleratedRatio
        logRatios = Array(repeating: 0, count: Self.alternativeLogFactors.count)
    }

    /// Adds one window's counts for both versions.
    public mutating func add(canary: (failures: Int, requests: Int), stable: (failures: Int, requests: Int)) {
        canaryFailures += canary.failures
        stableFailures += stable.failures
        canaryRequests += canary.requests
        stableRequests += stable.requests
        let failures = canary.failures + stable.failures
        // No failure, or only one version served: where the failures landed says nothing about the ratio.
        guard failures > 0, canary.requests > 0, stable.requests > 0 else { return }
        let (nc, ns) = (Double(canary.requests), Double(stable.requests))
        let share = { (ratio: Double) in nc * ratio / (nc * ratio + ns) }
        let nullShare = share(toleratedRatio)
        let (x, rest) = (Double(canary.failures), Double(failures - canary.failures))
        for (index, factor) in Self.alternativeLogFactors.enumerated() {
            let alternative = share(toleratedRatio * .exp(factor))
            logRatios[index] += x * .log(alternative / nullShare) + rest * .log((1 - alternative) / (1 - nullShare))
        }
    }

    /// log of the evidence: the log of the average likelihood ratio over the alternatives (0 before any window).
    public var logEvidence: Double {
        let largest = logRatios.max() ?? 0
        let sum = logRatios.reduce(0) { $0 + .exp($1 - largest) }
        return largest + .log(sum / Double(logRatios.count))
    }

    /// Whether the canary is shown to fail more than `toleratedRatio` times as often as the stable, at `confidence`.
    public func showsWorse(confidence: Double) -> Bool {
        logEvidence >= .log(1 / (1 - confidence))
    }
}
