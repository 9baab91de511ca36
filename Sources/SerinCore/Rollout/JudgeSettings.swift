/// Which judge decides a Canary's analyses (`analysis.judge`), and how the statistical one is tuned
/// (`analysis.statistical`). The default, `threshold`, is Flagger's way, unchanged.
public struct JudgeSettings: Hashable, Sendable, Codable {
    /// The judges a Canary can name.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// Each check's canary value against its `thresholdRange`, once per interval; `threshold` failed checks
        /// roll back, and a step lasts one interval.
        case threshold
        /// Canary against stable over the same moments with anytime-valid tests: a step advances as soon as the
        /// canary is shown no worse, and the release rolls back as soon as it is shown worse.
        case statistical
        /// Kayenta's method, the benchmark the statistical judge is measured against: each interval, the canary's
        /// request durations against the stable's over that interval's window by a Mann-Whitney U test; slower at
        /// `confidence` and by more than `latencyIncrease` at the median is a failed check, counted towards
        /// `threshold`. Other checks are judged as `threshold` judges them.
        case mannWhitney
    }

    public var kind: Kind
    /// How sure a statistical verdict must be, in percent (99 = wrong at most 1% of the time, however often
    /// the evidence is looked at).
    public var confidence: Double
    /// Percentage points the canary's error rate may exceed the stable's (0.5 = stable 0.4% lets the canary reach 0.9%).
    public var errorRateIncrease: Double
    /// Percent the canary's request durations may exceed the stable's (20 = 20% slower at the median).
    public var latencyIncrease: Double
    /// A step lasts at least this long, however soon the evidence decides, so a slow-building fault can show.
    public var minStepDuration: Duration
    /// A step still undecided after this long rolls back: not enough traffic to decide. Nil: the progress
    /// deadline decides.
    public var maxStepDuration: Duration?

    public static let threshold = JudgeSettings(kind: .threshold)

    public init(
        kind: Kind, confidence: Double = 99, errorRateIncrease: Double = 0.5, latencyIncrease: Double = 20,
        minStepDuration: Duration = .seconds(10), maxStepDuration: Duration? = nil
    ) {
        self.kind = kind
        self.confidence = confidence
        self.errorRateIncrease = errorRateIncrease
        self.latencyIncrease = latencyIncrease
        self.minStepDuration = minStepDuration
        self.maxStepDuration = maxStepDuration
    }

    /// The error budget of one verdict as a fraction (0.01 at 99%).
    public var alpha: Double { 1 - confidence / 100 }
}
