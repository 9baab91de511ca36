/// The built-in judge: each metric check's canary value against its `thresholdRange`, inconclusive below
/// the minimum request count. Stable readings are carried for display only and never change the verdict.
public struct ThresholdJudge: Judge {
    public init() {}

    /// Fail if any check fails (reasons joined by `; `), else inconclusive if any check is, else pass.
    /// A clear failure outranks missing data elsewhere, so a broken canary is not shielded by a quiet metric.
    /// Never conclusive: failures count towards `threshold`.
    public func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement {
        Judgement(combining: request.metrics.map { check in
            CheckJudgement(metric: check.name, verdict: evaluate(check, reading: samples[metric: check.name], canary: request.canary))
        })
    }

    /// The verdict of a single check, e.g. `request-success-rate 96.18% < 99% (canary web-v2-service, 1m, 1,204 requests)`.
    public func evaluate(_ check: MetricCheck, reading: MetricReading?, canary: Destination) -> Verdict {
        guard let reading else {
            return .inconclusive(reason: "\(check.name): no readings collected (canary \(canary))")
        }
        switch (check.kind, reading) {
        case (_, .unavailable(let reason)):
            return .fail(reason: "\(check.name): \(reason) (canary \(canary))")
        case (.requestSuccessRate, .traffic(let sample, _)), (.requestDuration, .traffic(let sample, _)):
            return evaluateTraffic(check, sample: sample, canary: canary)
        case (.custom, .value(let value, let window)):
            let context = "(canary \(canary), \(Readable.duration(window)))"
            guard let value else { return .inconclusive(reason: "\(check.name): no values found \(context)") }
            return compare(value, with: check.thresholdRange, label: check.name, format: { Readable.trimmed($0) }, bound: { Readable.trimmed($0) }, context: context)
        case (.custom, .traffic):
            return .inconclusive(reason: "\(check.name): got request counts, expected a query value (canary \(canary))")
        case (_, .value):
            return .inconclusive(reason: "\(check.name): got a query value, expected request counts (canary \(canary))")
        }
    }

    private func evaluateTraffic(_ check: MetricCheck, sample: MetricSample, canary: Destination) -> Verdict {
        let window = Readable.duration(sample.window)
        let minimum = max(check.minRequests, 1)
        guard sample.requests >= minimum else {
            // No request at all has no rate to judge, whatever minRequests says (0 included): said as such.
            let short = sample.requests == 0
                ? "no requests to judge" : "\(Readable.counted(sample.requests, "request")) < \(Readable.grouped(minimum)) minimum"
            return .inconclusive(reason:
                "\(check.name): \(short) (canary \(canary), \(window))" + (sample.unseen.map { ": \($0)" } ?? ""))
        }
        let context = "(canary \(canary), \(window), \(Readable.counted(sample.requests, "request")))"
        switch check.kind {
        case .requestSuccessRate:
            // successRate is non-nil here: requests >= 1.
            let rate = sample.successRate ?? 0
            return compare(rate, with: check.thresholdRange, label: check.name,
                           format: { Readable.fixed($0, decimals: 2) + "%" }, bound: { Readable.trimmed($0) + "%" }, context: context)
        case .requestDuration:
            guard let p99 = sample.p99Milliseconds else {
                return .inconclusive(reason: "\(check.name): no p99 reported \(context)")
            }
            return compare(p99, with: check.thresholdRange, label: "\(check.name) p99",
                           format: { Readable.trimmed($0) + "ms" }, bound: { Readable.trimmed($0) + "ms" }, context: context)
        case .custom:
            return .inconclusive(reason: "\(check.name): got request counts, expected a query value (canary \(canary))")
        }
    }

    private func compare(
        _ value: Double, with range: ThresholdRange, label: String,
        format: (Double) -> String, bound: (Double) -> String, context: String
    ) -> Verdict {
        if let min = range.min, value < min {
            return .fail(reason: "\(label) \(format(value)) < \(bound(min)) \(context)")
        }
        if let max = range.max, value > max {
            return .fail(reason: "\(label) \(format(value)) > \(bound(max)) \(context)")
        }
        return .pass
    }
}
