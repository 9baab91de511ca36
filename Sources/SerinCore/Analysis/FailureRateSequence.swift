import RealModule

/// A failure rate's anytime-valid confidence interval: the rates still plausible after `failures` of `requests`
/// failed, at a confidence that holds however often the interval is looked at and whenever the looking stops.
///
/// A canary judged every few seconds is looked at hundreds of times per release; an interval that is valid only at
/// one planned sample size (a z-test's, a fixed-window test's) would, looked at that often, exclude the true rate
/// far more often than its confidence says, and roll back healthy canaries. This is Robbins' mixture: for each
/// candidate rate p, the likelihood of the counts averaged over a Beta(a, b) prior on the rate, divided by their
/// likelihood at p,
///
///     E(p) = B(failures + a, requests − failures + b) / B(a, b) / (p^failures · (1 − p)^(requests − failures)),
///
/// is a nonnegative martingale with mean 1 while the true rate is p, so by Ville's inequality it ever reaches
/// 1/α with probability at most α. The interval is every p whose E(p) stays below 1/α. It assumes one rate over
/// the whole stream (requests are exchangeable); the prior changes only how fast it narrows, never its validity.
public struct FailureRateSequence: Sendable, Equatable {
    /// The prior's shape. Jeffreys' Beta(½, ½) narrows quickly near 0, where services' failure rates live.
    public var priorFailures: Double
    public var priorSuccesses: Double

    /// For rates that live near zero, as services' failure rates do: Beta(½, 50), mean about 1%. Its intervals are
    /// 10–30% narrower than Jeffreys' below a few percent (2,000 requests without a failure: at most 0.41% at
    /// 99.75%, against 0.52%), and wider only for rates no healthy service has.
    public static let rareEvents = FailureRateSequence(priorFailures: 0.5, priorSuccesses: 50)

    public init(priorFailures: Double = 0.5, priorSuccesses: Double = 0.5) {
        precondition(priorFailures > 0 && priorSuccesses > 0, "a Beta prior's shapes are positive")
        self.priorFailures = priorFailures
        self.priorSuccesses = priorSuccesses
    }

    /// log E(p) for these counts: how strongly they speak against the rate being p.
    public func logEvidence(against rate: Double, failures: Int, requests: Int) -> Double {
        precondition(0 <= failures && failures <= requests, "failures \(failures) of \(requests) requests")
        let (x, n) = (Double(failures), Double(requests))
        let mixture = Self.logBeta(x + priorFailures, n - x + priorSuccesses) - Self.logBeta(priorFailures, priorSuccesses)
        var atRate = 0.0
        if failures > 0 { atRate += x * .log(rate) }
        if failures < requests { atRate += (n - x) * .log(onePlus: -rate) }
        return mixture - atRate
    }

    /// The rates not yet ruled out at `confidence` (0.99 = 99%): all of [0, 1] before the first request.
    public func interval(failures: Int, requests: Int, confidence: Double) -> ClosedRange<Double> {
        precondition(confidence > 0 && confidence < 1, "confidence \(confidence) is not between 0 and 1")
        guard requests > 0 else { return 0...1 }
        let bound = Double.log(1 / (1 - confidence))
        let estimate = Double(failures) / Double(requests)
        // E is smallest at the observed rate and grows towards both ends, so each end is one crossing of the bound.
        let crosses = { (rate: Double) in logEvidence(against: rate, failures: failures, requests: requests) >= bound }
        let lower = failures == 0 ? 0 : Self.boundary(from: 0, to: estimate, outsideAtStart: crosses)
        let upper = failures == requests ? 1 : Self.boundary(from: 1, to: estimate, outsideAtStart: crosses)
        return lower...upper
    }

    /// Bisects between `start` (outside the interval) and `inside` for the edge, to well below any rate a person
    /// reads; the point returned is on the inside, so the interval never claims more than the evidence.
    static func boundary(from start: Double, to inside: Double, outsideAtStart isOutside: (Double) -> Bool) -> Double {
        var (outside, within) = (start, inside)
        for _ in 0..<100 where abs(outside - within) > 1e-12 {
            let middle = (outside + within) / 2
            if isOutside(middle) { outside = middle } else { within = middle }
        }
        return within
    }

    static func logBeta(_ a: Double, _ b: Double) -> Double {
        .logGamma(a) + .logGamma(b) - .logGamma(a + b)
    }
}
