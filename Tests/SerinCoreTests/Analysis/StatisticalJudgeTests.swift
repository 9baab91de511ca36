@testable import SerinCore
import Testing

@Suite("StatisticalJudge")
struct StatisticalJudgeTests {
    static let canary = Destination(host: "web-v2-service")
    static let successRate = MetricCheck.requestSuccessRate(min: 99)
    static let duration = MetricCheck.requestDuration(maxMilliseconds: 500)
    static let statistical = JudgeSettings(kind: .statistical)

    static func request(_ metrics: [MetricCheck] = [successRate], settings: JudgeSettings = statistical) -> AnalysisRequest {
        AnalysisRequest(
            ticket: RolloutTicket(1), canaryName: ResourceName(namespace: "shop", name: "web"), canary: canary,
            stable: Destination(host: "web-v1-service"), canaryWeight: 10, metrics: metrics, judge: settings)
    }

    static func errors(canary: (Int, Int), stable: (Int, Int)?, window: Duration = .seconds(60)) -> AnalysisSamples {
        AnalysisSamples(["request-success-rate": .traffic(
            canary: MetricSample(requests: canary.1, failures: canary.0, window: window),
            stable: stable.map { MetricSample(requests: $0.1, failures: $0.0, window: window) })])
    }

    /// `requests` log-normal durations around `median` in Istio's buckets, drawn with a fixed seed.
    static func latency(median: Double, requests: Int, seed: UInt64) -> MetricSample {
        var generator = SplitMix64(seed: seed)
        let counts = SimulatedTraffic.bucketCounts(.init(errorRate: 0, medianMilliseconds: median), requests: requests, using: &generator)
        return MetricSample(
            requests: requests, failures: 0, latency: LatencyHistogram(bounds: LatencyHistogram.istioBounds, counts: counts), window: .seconds(60))
    }

    static func durations(canaryMedian: Double, stableMedian: Double, canaryRequests: Int = 20_000, stableRequests: Int = 180_000) -> AnalysisSamples {
        AnalysisSamples(["request-duration": .traffic(
            canary: latency(median: canaryMedian, requests: canaryRequests, seed: 1),
            stable: latency(median: stableMedian, requests: stableRequests, seed: 2))])
    }

    @Test("a canary failing clearly more often than the stable is rolled back at once, with both rates, the interval and the counts")
    func clearRegressionIsConclusive() throws {
        // A 90% floor, so the 5% failures are judged against the stable, not against the hard limit.
        let judgement = StatisticalJudge().judge(Self.errors(canary: (50, 1_000), stable: (40, 9_000)), for: Self.request([.requestSuccessRate(min: 90)]))
        guard case .fail(let reason) = judgement.verdict else {
            Issue.record("expected a fail, got \(judgement.verdict)")
            return
        }
        #expect(judgement.isConclusive)
        #expect(reason.hasPrefix("request-success-rate: error rate canary 5% vs stable 0.44% (+4.6 pts, 99% CI [+"), "\(reason)")
        #expect(reason.hasSuffix("]), 1,000 vs 9,000 requests in 1m: worse beyond the +0.5 pts tolerance"), "\(reason)")
        let comparison = try #require(judgement.checks.first?.comparison)
        #expect(comparison.quantity == .errorRate && comparison.decision == .worse)
        #expect(comparison.differenceLower > 0.005 && comparison.differenceUpper > 0.046)
        #expect(comparison.canaryRequests == 1_000 && comparison.stableRequests == 9_000)
    }

    @Test("an outage that fails both versions alike is not held against the canary")
    func sharedOutageIsNotTheCanarysFault() {
        for (canary, stable) in [((300, 1_000), (2_700, 9_000)), ((3_000, 10_000), (27_150, 90_000))] {
            let verdict = StatisticalJudge().judge(Self.errors(canary: canary, stable: stable), for: Self.request([.requestSuccessRate(min: 0)])).verdict
            #expect(verdict.outcome != .fail, "\(verdict)")
        }
    }

    @Test("too few requests wait, never pass and never fail, and say how many there were", arguments: [
        ((0, 3), (0, 27)), ((1, 20), (0, 180)), ((0, 200), (0, 1_800)),
    ])
    func tooLittleTrafficWaits(canary: (Int, Int), stable: (Int, Int)) {
        let judgement = StatisticalJudge().judge(Self.errors(canary: canary, stable: stable), for: Self.request())
        guard case .inconclusive(let reason) = judgement.verdict else {
            Issue.record("expected to wait, got \(judgement.verdict)")
            return
        }
        #expect(reason.contains("not enough traffic to decide") && reason.contains("\(canary.1)"), "\(reason)")
        // Where the comparison ran, the wait says the tolerance the evidence is measured against.
        if canary.1 >= 20 { #expect(reason.hasSuffix(", against the +0.5 pts tolerance"), "\(reason)") }
        #expect(!judgement.isConclusive)
    }

    @Test("a canary shown no worse than the stable within the tolerance passes, keeping the numbers")
    func noWorsePasses() throws {
        let judgement = StatisticalJudge().judge(Self.errors(canary: (4, 20_000), stable: (40, 180_000)), for: Self.request())
        #expect(judgement.verdict == .pass)
        let comparison = try #require(judgement.checks.first?.comparison)
        #expect(comparison.decision == .noWorse && comparison.differenceUpper <= 0.005)
    }

    @Test("a canary beyond the hard limit fails at once whatever the stable does")
    func hardLimitIgnoresTheStable() throws {
        let judgement = StatisticalJudge().judge(Self.errors(canary: (16, 20), stable: (160, 200)), for: Self.request())
        #expect(judgement.verdict.outcome == .fail && judgement.isConclusive, "\(judgement.verdict)")
        guard case .limit(let limit)? = judgement.checks.first?.comparison?.quantity else {
            Issue.record("expected a hard-limit comparison, got \(judgement.checks)")
            return
        }
        #expect(abs(limit - 0.01) < 1e-12)
        #expect(judgement.verdict.reason?.contains("is above the 1% thresholdRange allows") == true, "\(judgement.verdict)")
    }

    @Test("the confidence is shared by the traffic checks, so the verdict as a whole keeps it")
    func errorBudgetIsSplit() throws {
        var samples = Self.durations(canaryMedian: 20, stableMedian: 20)
        samples[metric: "request-success-rate"] = Self.errors(canary: (4, 20_000), stable: (40, 180_000))[metric: "request-success-rate"]
        let judgement = StatisticalJudge().judge(samples, for: Self.request([Self.successRate, Self.duration]))
        #expect(judgement.checks.compactMap(\.comparison?.confidence) == [99.5, 99.5])
        #expect(judgement.verdict == .pass, "\(judgement.verdict)")
    }

    @Test("latency: a canary 50% slower at the median is worse; one as fast, or within the tolerance, passes", arguments: [
        (30.0, Verdict.Outcome.fail), (20.0, .pass), (22.0, .pass),
    ])
    func latencyShift(canaryMedian: Double, expected: Verdict.Outcome) throws {
        let judgement = StatisticalJudge().judge(
            Self.durations(canaryMedian: canaryMedian, stableMedian: 20), for: Self.request([.requestDuration(maxMilliseconds: 10_000)]))
        #expect(judgement.verdict.outcome == expected, "\(judgement.verdict)")
        #expect(judgement.isConclusive == (expected == .fail))
        guard case .slowerThan(let bound, let stableBound)? = judgement.checks.first?.comparison?.quantity else {
            Issue.record("expected a latency comparison, got \(judgement.checks)")
            return
        }
        // The reference is the stable's bucket bound nearest its median; the stable's side shrinks it by 20%.
        #expect(bound == 25 && abs(stableBound - 25 / 1.2) < 1e-9)
    }

    @Test("latency beyond the p99 limit fails at once, whatever the stable does")
    func latencyHardLimit() {
        let judgement = StatisticalJudge().judge(
            Self.durations(canaryMedian: 400, stableMedian: 400, canaryRequests: 2_000, stableRequests: 18_000), for: Self.request([Self.duration]))
        #expect(judgement.verdict.outcome == .fail && judgement.isConclusive, "\(judgement.verdict)")
        #expect(judgement.verdict.reason?.contains("share slower than 500ms (p99 limit)") == true, "\(judgement.verdict)")
    }

    @Test("without histograms the p99 is checked as the threshold judge does, and a fail counts towards the threshold")
    func noHistogramFallsBackToThresholds() {
        let samples = AnalysisSamples(["request-duration": .traffic(
            canary: MetricSample(requests: 1_204, failures: 0, p99Milliseconds: 812, window: .seconds(60)),
            stable: MetricSample(requests: 9_000, failures: 0, p99Milliseconds: 100, window: .seconds(60)))])
        let judgement = StatisticalJudge().judge(samples, for: Self.request([Self.duration]))
        #expect(judgement.verdict == .fail(reason: "request-duration p99 812ms > 500ms (canary web-v2-service, 1m, 1,204 requests)"))
        #expect(!judgement.isConclusive)
    }

    @Test("custom metrics and unreadable metrics fail as the threshold judge's do, never conclusively")
    func customAndUnavailable() {
        let custom = MetricCheck(name: "error-rate", kind: .custom(template: "error-rate"), thresholdRange: ThresholdRange(max: 1))
        let samples = AnalysisSamples([
            "error-rate": .value(3.2, window: .seconds(120)),
            "request-success-rate": .unavailable(reason: "Prometheus unreachable"),
        ])
        let judgement = StatisticalJudge().judge(samples, for: Self.request([custom, Self.successRate]))
        #expect(judgement.checks.map(\.verdict) == [
            .fail(reason: "error-rate 3.2 > 1 (canary web-v2-service, 2m)"),
            .fail(reason: "request-success-rate: Prometheus unreachable (canary web-v2-service)"),
        ])
        #expect(!judgement.isConclusive)
    }

    @Test("CanaryJudge judges with the kind each Canary names")
    func canaryJudgeDispatches() {
        let samples = Self.errors(canary: (50, 1_000), stable: (40, 9_000))
        #expect(CanaryJudge().judge(samples, for: Self.request(settings: .threshold)).isConclusive == false)
        #expect(CanaryJudge().judge(samples, for: Self.request()).isConclusive)
    }
}

@Suite("MannWhitneyJudge")
struct MannWhitneyJudgeTests {
    static let settings = JudgeSettings(kind: .mannWhitney)

    @Test("a canary slower beyond the tolerance fails the check, counted towards the threshold, with the medians and p in the reason")
    func slowerCanaryFails() {
        let request = StatisticalJudgeTests.request([.requestDuration(maxMilliseconds: 10_000)], settings: Self.settings)
        let judgement = MannWhitneyJudge().judge(StatisticalJudgeTests.durations(canaryMedian: 30, stableMedian: 20), for: request)
        #expect(judgement.verdict.outcome == .fail && !judgement.isConclusive, "\(judgement.verdict)")
        #expect(judgement.verdict.reason?.contains("Mann-Whitney p = ") == true, "\(judgement.verdict)")
        #expect(CanaryJudge().judge(StatisticalJudgeTests.durations(canaryMedian: 30, stableMedian: 20), for: request) == judgement)
    }

    @Test("a canary as fast, or slower only within the tolerance, passes", arguments: [20.0, 22.0])
    func withinTolerancePasses(canaryMedian: Double) {
        let request = StatisticalJudgeTests.request([.requestDuration(maxMilliseconds: 10_000)], settings: Self.settings)
        #expect(MannWhitneyJudge().judge(StatisticalJudgeTests.durations(canaryMedian: canaryMedian, stableMedian: 20), for: request).verdict == .pass)
    }

    @Test("error rates are judged by their thresholdRange, as the threshold judge does")
    func errorRatesUseThresholds() {
        let request = StatisticalJudgeTests.request(settings: Self.settings)
        let samples = StatisticalJudgeTests.errors(canary: (50, 1_000), stable: (40, 9_000))
        #expect(MannWhitneyJudge().judge(samples, for: request) == ThresholdJudge().judge(samples, for: request))
    }
}
