/// Kayenta's fixed-window comparison (`analysis.judge: mannWhitney`): at each interval, the canary's request
/// durations against the stable's over that interval's window, by a one-sided Mann-Whitney U test on the two
/// histograms. It is what Netflix's canary analysis does, and the benchmark `StatisticalJudge` is measured against
/// in docs/analysis.md: valid at one planned look, so looked at every interval its false alarms add up, which is
/// why its failures count towards `threshold` instead of rolling back at once.
public struct MannWhitneyJudge: Judge {
    public init() {}

    public func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement {
        Judgement(combining: request.metrics.map { check in
            let reading = samples[metric: check.name]
            let threshold = ThresholdJudge().evaluate(check, reading: reading, canary: request.canary)
            guard check.kind == .requestDuration, case .traffic(let canary, let stable) = reading,
                let canaryLatency = canary.latency, let stableLatency = stable?.latency, canary.requests >= max(check.minRequests, 1),
                let test = MannWhitney(canary: canaryLatency, stable: stableLatency),
                let canaryMedian = canaryLatency.quantile(0.5), let stableMedian = stableLatency.quantile(0.5), stableMedian > 0
            else { return CheckJudgement(metric: check.name, verdict: threshold) }
            // The p99 bound still holds; past it, the comparison.
            if case .fail = threshold { return CheckJudgement(metric: check.name, verdict: threshold) }
            let ratio = canaryMedian / stableMedian
            let slower = test.pValue < request.judge.alpha && ratio > 1 + request.judge.latencyIncrease / 100
            guard slower else { return CheckJudgement(metric: check.name, verdict: .pass) }
            let reason = "\(check.name): canary median \(Readable.trimmed(canaryMedian))ms vs stable \(Readable.trimmed(stableMedian))ms "
                + "(\(Readable.trimmed((ratio - 1) * 100, maxDecimals: 1))% slower), Mann-Whitney p = \(Self.scientific(test.pValue)) "
                + "over \(Readable.duration(canary.window)), \(Readable.grouped(canary.requests)) vs \(Readable.counted(stable?.requests ?? 0, "request"))"
            return CheckJudgement(metric: check.name, verdict: .fail(reason: reason))
        })
    }

    /// `0.0031`, `2.1e-9`: small p-values readable at a glance.
    static func scientific(_ value: Double) -> String {
        guard value > 0 else { return "0" }
        if value >= 0.001 { return Readable.trimmed(value, maxDecimals: 4) }
        var exponent = 0
        var mantissa = value
        while mantissa < 1 {
            mantissa *= 10
            exponent -= 1
        }
        return "\(Readable.trimmed(mantissa, maxDecimals: 1))e\(exponent)"
    }
}
