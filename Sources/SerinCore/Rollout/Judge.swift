/// Turns collected metric readings into a `Judgement`: the verdict the rollout acts on and each check's own.
///
/// Kept this small so judges can be swapped: `ThresholdJudge` checks fixed bounds, `StatisticalJudge` compares
/// canary with stable sequentially and decides as soon as the evidence does, `CanaryJudge` picks whichever the
/// Canary names. The rollout accepts a judgement whenever it arrives, so every kind fits.
public protocol Judge: Sendable {
    func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement
}

/// The judge each Canary's spec names (`analysis.judge`): what a controller uses unless told otherwise.
public struct CanaryJudge: Judge {
    public init() {}

    public func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement {
        switch request.judge.kind {
        case .threshold: ThresholdJudge().judge(samples, for: request)
        case .statistical: StatisticalJudge().judge(samples, for: request)
        case .mannWhitney: MannWhitneyJudge().judge(samples, for: request)
        }
    }
}
