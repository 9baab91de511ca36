/// Collects the readings an analysis asks for (each metric over its own window).
public protocol MetricProvider: Sendable {
    func samples(for request: AnalysisRequest) async -> AnalysisSamples
}
