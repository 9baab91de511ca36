/// One metric check's verdict with the numbers behind it: what history stores, the API returns and the dashboard
/// draws, so "why did it roll back?" is answered by data, not by a sentence to parse.
public struct CheckJudgement: Hashable, Sendable, Codable {
    public var metric: String
    public var verdict: Verdict
    /// The canary against the stable, when the judge compared them (the statistical judge does).
    public var comparison: Comparison?

    public init(metric: String, verdict: Verdict, comparison: Comparison? = nil) {
        self.metric = metric
        self.verdict = verdict
        self.comparison = comparison
    }
}

/// The canary's rate of bad requests (failed, or slower than a bound) against the stable's over the same
/// moments: both rates, the interval their difference lies in at the stated confidence, and what it decided.
public struct Comparison: Hashable, Sendable, Codable {
    /// What counts as a bad request.
    public enum Quantity: Hashable, Sendable, Codable {
        /// Failed (5xx) requests.
        case errorRate
        /// Requests slower than `milliseconds` for the canary; for the stable, slower than that bound shrunk by
        /// the tolerated slow-down, so a canary exactly as much slower as tolerated compares equal.
        case slowerThan(milliseconds: Double, stableMilliseconds: Double)
        /// The canary's own rate against a hard limit (`thresholdRange`), whatever the stable does.
        case limit(Double)

        private enum CodingKeys: String, CodingKey {
            case kind, milliseconds, stableMilliseconds, limit
        }

        /// `{"kind": "slowerThan", "milliseconds": 50, "stableMilliseconds": 41.67}`: flat, for API readers.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            switch try container.decode(String.self, forKey: .kind) {
            case "errorRate": self = .errorRate
            case "slowerThan":
                self = .slowerThan(milliseconds: try container.decode(Double.self, forKey: .milliseconds),
                                   stableMilliseconds: try container.decode(Double.self, forKey: .stableMilliseconds))
            case "limit": self = .limit(try container.decode(Double.self, forKey: .limit))
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription:
                    "kind is \(other), expected errorRate, slowerThan or limit")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .errorRate:
                try container.encode("errorRate", forKey: .kind)
            case .slowerThan(let milliseconds, let stableMilliseconds):
                try container.encode("slowerThan", forKey: .kind)
                try container.encode(milliseconds, forKey: .milliseconds)
                try container.encode(stableMilliseconds, forKey: .stableMilliseconds)
            case .limit(let limit):
                try container.encode("limit", forKey: .kind)
                try container.encode(limit, forKey: .limit)
            }
        }
    }

    public var quantity: Quantity
    /// Fractions (0.021 = 2.1%).
    public var canaryRate: Double
    public var stableRate: Double?
    /// Canary rate minus stable rate (or minus the limit): the values the evidence has not ruled out.
    public var differenceLower: Double
    public var differenceUpper: Double
    /// How far above zero the difference may be before the canary is worse (a fraction).
    public var tolerance: Double
    /// In percent, of the interval.
    public var confidence: Double
    public var canaryRequests: Int
    public var stableRequests: Int
    public var decision: FailureRateComparison.Decision

    public init(
        quantity: Quantity, canaryRate: Double, stableRate: Double?, difference: ClosedRange<Double>, tolerance: Double,
        confidence: Double, canaryRequests: Int, stableRequests: Int, decision: FailureRateComparison.Decision
    ) {
        self.quantity = quantity
        self.canaryRate = canaryRate
        self.stableRate = stableRate
        self.differenceLower = difference.lowerBound
        self.differenceUpper = difference.upperBound
        self.tolerance = tolerance
        self.confidence = confidence
        self.canaryRequests = canaryRequests
        self.stableRequests = stableRequests
        self.decision = decision
    }
}

/// What a judge made of one analysis: the verdict the rollout acts on, each check's own verdict and numbers, and
/// whether a failure is already conclusive.
public struct Judgement: Hashable, Sendable {
    public var verdict: Verdict
    /// One per metric check, in the request's order.
    public var checks: [CheckJudgement]
    /// A failure shown at the judge's confidence: the rollout rolls back at once instead of counting it towards
    /// `threshold`. Threshold verdicts never are; an unreadable metric never is.
    public var isConclusive: Bool

    public init(verdict: Verdict, checks: [CheckJudgement], isConclusive: Bool = false) {
        self.verdict = verdict
        self.checks = checks
        self.isConclusive = isConclusive
    }

    /// The checks' verdicts combined: a failure outranks missing data elsewhere, so a broken canary is not
    /// shielded by a quiet metric; reasons are joined by `; `.
    public init(combining checks: [CheckJudgement], conclusive: Set<String> = []) {
        let failures = checks.compactMap { check -> String? in
            if case .fail(let reason) = check.verdict { reason } else { nil }
        }
        let unknowns = checks.compactMap { check -> String? in
            if case .inconclusive(let reason) = check.verdict { reason } else { nil }
        }
        let verdict: Verdict =
            !failures.isEmpty ? .fail(reason: failures.joined(separator: "; "))
            : !unknowns.isEmpty ? .inconclusive(reason: unknowns.joined(separator: "; ")) : .pass
        let conclusiveFailure = checks.contains { check in
            if case .fail = check.verdict { conclusive.contains(check.metric) } else { false }
        }
        self.init(verdict: verdict, checks: checks, isConclusive: conclusiveFailure)
    }
}
