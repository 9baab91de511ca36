/// The statistical judge (`analysis.judge: statistical`): the canary against the stable over the same moments,
/// with anytime-valid intervals, so it may look as often as it likes and decide as soon as the evidence does.
///
/// Each look reads the whole step so far (the rollout widens the windows), and per traffic check asks:
/// - **a hard limit** (`thresholdRange`): is the canary's own rate of failed requests, or of requests slower
///   than the p99 bound, shown beyond the limit? Then it rolls back whatever the stable does;
/// - **the comparison:** is the canary's error rate shown above the stable's plus `errorRateIncrease`, or its
///   share of requests slower than a reference duration shown above the stable's share slower than that
///   duration shrunk by `latencyIncrease`? Then it rolls back at once. Shown within them, the step may advance.
///   Neither yet: wait, never pass and never fail on too little data.
///
/// The error budget (`confidence`) is split evenly over the traffic checks, so the verdict as a whole keeps it.
/// Custom metrics are judged as the threshold judge does, and a failing one counts towards `threshold`.
public struct StatisticalJudge: Judge {
    /// The intervals for rates near zero: failed requests, and requests beyond a p99 limit.
    public var rareRates: FailureRateSequence
    /// The intervals for rates anywhere in [0, 1]: the share of requests slower than the stable's median.
    public var anyRates: FailureRateSequence

    public init(rareRates: FailureRateSequence = .rareEvents, anyRates: FailureRateSequence = FailureRateSequence()) {
        self.rareRates = rareRates
        self.anyRates = anyRates
    }

    public func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement {
        let trafficChecks = request.metrics.count { !$0.isCustom }
        let alpha = request.judge.alpha / Double(max(trafficChecks, 1))
        var conclusive: Set<String> = []
        let checks = request.metrics.map { check in
            let (verdict, comparison, isConclusive) = evaluate(check, reading: samples[metric: check.name], request: request, alpha: alpha)
            if isConclusive { conclusive.insert(check.name) }
            return CheckJudgement(metric: check.name, verdict: verdict, comparison: comparison)
        }
        return Judgement(combining: checks, conclusive: conclusive)
    }

    /// One check: its verdict, the comparison behind it, and whether a failure is conclusive.
    func evaluate(
        _ check: MetricCheck, reading: MetricReading?, request: AnalysisRequest, alpha: Double
    ) -> (Verdict, Comparison?, Bool) {
        let fallback = { (ThresholdJudge().evaluate(check, reading: reading, canary: request.canary), Comparison?.none, false) }
        guard !check.isCustom, case .traffic(let canary, let stable) = reading else { return fallback() }
        let minimum = max(check.minRequests, 1)
        let window = Readable.duration(canary.window)
        guard canary.requests >= minimum else {
            return (.inconclusive(reason:
                "\(check.name): not enough traffic to decide: \(Readable.counted(canary.requests, "canary request")) in \(window), \(Readable.grouped(minimum)) needed"
                    + (canary.unseen.map { ": \($0)" } ?? "")),
                nil, false)
        }
        switch check.kind {
        case .requestSuccessRate:
            return errorRate(check, canary: canary, stable: stable, settings: request.judge, alpha: alpha)
        case .requestDuration:
            guard let canaryLatency = canary.latency, let stableLatency = stable?.latency, canaryLatency.bounds == stableLatency.bounds,
                canaryLatency.total > 0
            else { return fallback() }
            return latency(check, canary: canaryLatency, stable: stableLatency, window: window, settings: request.judge, alpha: alpha)
        case .custom:
            return fallback()
        }
    }

    private func errorRate(
        _ check: MetricCheck, canary: MetricSample, stable: MetricSample?, settings: JudgeSettings, alpha: Double
    ) -> (Verdict, Comparison?, Bool) {
        let window = Readable.duration(canary.window)
        let counts = (failures: canary.failures, requests: canary.requests)
        if let min = check.thresholdRange.min,
            let breach = limit(1 - min / 100, counts, alpha: alpha, label: "error rate", check: check, window: window)
        {
            return breach
        }
        guard let stable, stable.requests > 0 else {
            return (.inconclusive(reason: "\(check.name): not enough traffic to decide: no stable requests in \(window) to compare with"), nil, false)
        }
        let tolerance = settings.errorRateIncrease / 100
        let result = FailureRateComparison(
            canary: counts, stable: (stable.failures, stable.requests), tolerance: tolerance, confidence: 1 - alpha, sequence: rareRates)
        let comparison = Comparison(
            quantity: .errorRate, canaryRate: result.canaryRate, stableRate: result.stableRate, difference: result.difference,
            tolerance: tolerance, confidence: (1 - alpha) * 100, canaryRequests: canary.requests, stableRequests: stable.requests,
            decision: result.decision)
        let numbers = "error rate canary \(Self.percent(result.canaryRate)) vs stable \(Self.percent(result.stableRate)) "
            + "(\(Self.points(result.canaryRate - result.stableRate)), \(Self.interval(comparison))), "
            + "\(Readable.grouped(canary.requests)) vs \(Readable.counted(stable.requests, "request")) in \(window)"
        return decide(check, comparison, numbers: numbers, tolerance: "the \(Self.points(tolerance)) tolerance")
    }

    private func latency(
        _ check: MetricCheck, canary: LatencyHistogram, stable: LatencyHistogram, window: String, settings: JudgeSettings, alpha: Double
    ) -> (Verdict, Comparison?, Bool) {
        let (canaryTotal, stableTotal) = (canary.total, stable.total)
        if let max = check.thresholdRange.max {
            // p99 at most `max` is: at most 1% of requests slower than `max`.
            let slow = (Int(canary.countAbove(max).rounded()), canaryTotal)
            if let breach = limit(0.01, slow, alpha: alpha, label: "share slower than \(Readable.trimmed(max))ms (p99 limit)", check: check, window: window) {
                return breach
            }
        }
        guard stableTotal > 0, let reference = Self.referenceBound(stable) else {
            return (.inconclusive(reason: "\(check.name): not enough traffic to decide: no stable requests in \(window) to compare with"), nil, false)
        }
        let shrunk = reference / (1 + settings.latencyIncrease / 100)
        let canarySlow = Int(canary.countAbove(reference).rounded())
        let stableSlow = min(stableTotal, Int(stable.countAbove(shrunk).rounded()))
        let result = FailureRateComparison(
            canary: (canarySlow, canaryTotal), stable: (stableSlow, stableTotal), tolerance: 0, confidence: 1 - alpha, sequence: anyRates)
        let comparison = Comparison(
            quantity: .slowerThan(milliseconds: reference, stableMilliseconds: shrunk), canaryRate: result.canaryRate,
            stableRate: result.stableRate, difference: result.difference, tolerance: 0, confidence: (1 - alpha) * 100,
            canaryRequests: canaryTotal, stableRequests: stableTotal, decision: result.decision)
        let numbers = "canary \(Self.percent(result.canaryRate)) of requests over \(Readable.trimmed(reference))ms vs stable "
            + "\(Self.percent(result.stableRate)) over \(Readable.trimmed(shrunk))ms "
            + "(\(Self.points(result.canaryRate - result.stableRate)), \(Self.interval(comparison))), "
            + "\(Readable.grouped(canaryTotal)) vs \(Readable.counted(stableTotal, "request")) in \(window)"
        return decide(check, comparison, numbers: numbers, tolerance: "the \(Readable.trimmed(settings.latencyIncrease))% latency tolerance")
    }

    /// The canary's own rate against a hard limit: a conclusive failure once its interval lies wholly above it.
    private func limit(
        _ limit: Double, _ counts: (failures: Int, requests: Int), alpha: Double, label: String, check: MetricCheck, window: String
    ) -> (Verdict, Comparison?, Bool)? {
        let range = rareRates.interval(failures: counts.failures, requests: counts.requests, confidence: 1 - alpha / 2)
        guard range.lowerBound > limit else { return nil }
        let rate = Double(counts.failures) / Double(counts.requests)
        let comparison = Comparison(
            quantity: .limit(limit), canaryRate: rate, stableRate: nil, difference: (range.lowerBound - limit)...(range.upperBound - limit),
            tolerance: 0, confidence: (1 - alpha / 2) * 100, canaryRequests: counts.requests, stableRequests: 0, decision: .worse)
        let reason = "\(check.name): \(label) canary \(Self.percent(rate)) (\(Self.trimmedPercent(comparison.confidence))% CI "
            + "[\(Self.percent(range.lowerBound)), \(Self.percent(range.upperBound))]) is above the \(Self.percent(limit)) thresholdRange allows, "
            + "\(Readable.counted(counts.requests, "request")) in \(window)"
        return (.fail(reason: reason), comparison, true)
    }

    private func decide(_ check: MetricCheck, _ comparison: Comparison, numbers: String, tolerance: String) -> (Verdict, Comparison?, Bool) {
        switch comparison.decision {
        case .worse:
            return (.fail(reason: "\(check.name): \(numbers): worse beyond \(tolerance)"), comparison, true)
        case .noWorse:
            return (.pass, comparison, false)
        case .undecided:
            // The tolerance said as when it fails: what more traffic would have to show, either way.
            return (.inconclusive(reason: "\(check.name): not enough traffic to decide: \(numbers), against \(tolerance)"), comparison, false)
        }
    }

    /// The stable's bound nearest its median: where a shift of the canary's distribution moves the most requests
    /// across, so the comparison there has the most power.
    static func referenceBound(_ stable: LatencyHistogram) -> Double? {
        let total = Double(stable.total)
        guard total > 0 else { return nil }
        return stable.bounds.min { abs(stable.countAbove($0) / total - 0.5) < abs(stable.countAbove($1) / total - 0.5) }
    }

    /// `2.1%`, `0.04%`: two decimals below 1%, one above.
    static func percent(_ rate: Double) -> String {
        Readable.trimmed(rate * 100, maxDecimals: rate < 0.01 ? 2 : 1) + "%"
    }

    /// A difference of rates in percentage points, signed: `+1.7 pts`.
    static func points(_ difference: Double) -> String {
        let value = Readable.trimmed(abs(difference) * 100, maxDecimals: abs(difference) < 0.01 ? 2 : 1)
        return (difference < 0 && value != "0" ? "-" : "+") + value + (value == "1" ? " pt" : " pts")
    }

    /// `99% CI [+1.1, +2.4]`, in points.
    static func interval(_ comparison: Comparison) -> String {
        let bound = { (value: Double) in
            let text = Readable.trimmed(abs(value) * 100, maxDecimals: abs(value) < 0.01 ? 2 : 1)
            return (value < 0 && text != "0" ? "-" : "+") + text
        }
        return "\(trimmedPercent(comparison.confidence))% CI [\(bound(comparison.differenceLower)), \(bound(comparison.differenceUpper))]"
    }

    static func trimmedPercent(_ value: Double) -> String { Readable.trimmed(value, maxDecimals: 2) }
}

extension MetricCheck {
    /// A user's query (`templateRef`), which carries no request counts to compare.
    public var isCustom: Bool {
        if case .custom = kind { true } else { false }
    }
}
