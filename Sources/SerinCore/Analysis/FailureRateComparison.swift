/// The canary's failure rate against the stable's over the same moments, as an anytime-valid interval on their
/// difference and what it decides: worse beyond the tolerance (roll back), no worse than the tolerance allows
/// (go on), or not yet known (wait for more requests).
///
/// Each arm gets its own `FailureRateSequence` at half the error budget, so the difference's interval — from the
/// canary's lowest plausible rate minus the stable's highest to the other way round — holds at the stated
/// confidence at every look (a union bound: conservative, never optimistic). Judging against the stable, not a
/// fixed number, is what keeps a backend outage that fails both versions from rolling back the canary.
public struct FailureRateComparison: Sendable, Equatable {
    /// What the evidence says so far.
    public enum Decision: String, Sendable, Equatable, Codable {
        /// The canary fails more often than the stable by more than the tolerance.
        case worse
        /// The canary fails no more often than the stable plus the tolerance.
        case noWorse
        /// Too few requests to tell either way.
        case undecided
    }

    /// Canary rate minus stable rate: the values still plausible.
    public var difference: ClosedRange<Double>
    public var canaryRate: Double
    public var stableRate: Double
    public var decision: Decision

    /// - Parameters:
    ///   - tolerance: how much higher the canary's failure rate may be (0.005 = half a percentage point).
    ///   - confidence: of the whole comparison, at every look (0.99 = 99%).
    public init(
        canary: (failures: Int, requests: Int), stable: (failures: Int, requests: Int), tolerance: Double, confidence: Double,
        sequence: FailureRateSequence = FailureRateSequence()
    ) {
        let perArm = 1 - (1 - confidence) / 2
        let canaryRange = sequence.interval(failures: canary.failures, requests: canary.requests, confidence: perArm)
        let stableRange = sequence.interval(failures: stable.failures, requests: stable.requests, confidence: perArm)
        difference = (canaryRange.lowerBound - stableRange.upperBound)...(canaryRange.upperBound - stableRange.lowerBound)
        canaryRate = canary.requests > 0 ? Double(canary.failures) / Double(canary.requests) : 0
        stableRate = stable.requests > 0 ? Double(stable.failures) / Double(stable.requests) : 0
        if difference.lowerBound > tolerance {
            decision = .worse
        } else if difference.upperBound <= tolerance {
            decision = .noWorse
        } else {
            decision = .undecided
        }
    }
}
