/// Turns collected metric readings into a `Verdict`.
///
/// Kept this small so judges can be swapped: the built-in `ThresholdJudge` checks fixed bounds; a later one
/// may compare canary with stable statistically and decide before an interval ends. The rollout accepts a
/// verdict whenever it arrives, so either kind fits.
public protocol Judge: Sendable {
    func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Verdict
}
