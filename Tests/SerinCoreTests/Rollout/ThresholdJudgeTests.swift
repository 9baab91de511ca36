import SerinCore
import Testing

@Suite("ThresholdJudge")
struct ThresholdJudgeTests {
    let judge = ThresholdJudge()
    let canary = Destination(host: "web-v2-service")

    static let successRate = MetricCheck.requestSuccessRate(min: 99)
    static let duration = MetricCheck.requestDuration(maxMilliseconds: 500)
    static let errorRate = MetricCheck(name: "error-rate", kind: .custom(template: "error-rate"), thresholdRange: ThresholdRange(max: 1))

    static func traffic(_ requests: Int, failures: Int = 0, p99: Double? = nil, window: Duration = .seconds(60)) -> MetricReading {
        .traffic(canary: MetricSample(requests: requests, failures: failures, p99Milliseconds: p99, window: window), stable: nil)
    }

    @Test("failing checks give reasons with grouped counts, two-decimal percents and the window", arguments: [
        (successRate, traffic(1_204, failures: 46),
         "request-success-rate 96.18% < 99% (canary web-v2-service, 1m, 1,204 requests)"),
        (duration, traffic(1_204, p99: 812),
         "request-duration p99 812ms > 500ms (canary web-v2-service, 1m, 1,204 requests)"),
        (MetricCheck.requestSuccessRate(min: 99.5, interval: .seconds(90)), traffic(12_345_678, failures: 100_000, window: .seconds(90)),
         "request-success-rate 99.19% < 99.5% (canary web-v2-service, 1m30s, 12,345,678 requests)"),
        (MetricCheck.requestDuration(maxMilliseconds: 1_000), traffic(5, p99: 1_234.5, window: .seconds(30)),
         "request-duration p99 1,234.5ms > 1,000ms (canary web-v2-service, 30s, 5 requests)"),
        (MetricCheck(name: "request-duration", kind: .requestDuration, thresholdRange: ThresholdRange(min: 2, max: 500)), traffic(1, p99: 0.5),
         "request-duration p99 0.5ms < 2ms (canary web-v2-service, 1m, 1 request)"),
        (errorRate, MetricReading.value(3.2, window: .seconds(120)), "error-rate 3.2 > 1 (canary web-v2-service, 2m)"),
        (MetricCheck(name: "apdex", kind: .custom(template: "apdex"), thresholdRange: ThresholdRange(min: 0.9)), MetricReading.value(0.714, window: .seconds(300)),
         "apdex 0.71 < 0.9 (canary web-v2-service, 5m)"),
    ])
    func failureReasons(check: MetricCheck, reading: MetricReading, expected: String) {
        let verdict = judge.evaluate(check, reading: reading, canary: canary)
        #expect(verdict == .fail(reason: expected))
    }

    @Test("too little data is inconclusive, never a pass", arguments: [
        (MetricCheck.requestSuccessRate(min: 99, minRequests: 100), traffic(12),
         "request-success-rate: 12 requests < 100 minimum (canary web-v2-service, 1m)"),
        (MetricCheck.requestSuccessRate(min: 99, minRequests: 0), traffic(0),
         "request-success-rate: no requests to judge (canary web-v2-service, 1m)"),
        (MetricCheck.requestDuration(maxMilliseconds: 500, minRequests: 5_000), traffic(1, p99: 3),
         "request-duration: 1 request < 5,000 minimum (canary web-v2-service, 1m)"),
        (duration, traffic(1_204), "request-duration: no p99 reported (canary web-v2-service, 1m, 1,204 requests)"),
        (errorRate, MetricReading.value(nil, window: .seconds(60)), "error-rate: no values found (canary web-v2-service, 1m)"),
        (successRate, MetricReading.value(99.9, window: .seconds(60)),
         "request-success-rate: got a query value, expected request counts (canary web-v2-service)"),
        (errorRate, traffic(10), "error-rate: got request counts, expected a query value (canary web-v2-service)"),
    ])
    func inconclusiveReasons(check: MetricCheck, reading: MetricReading, expected: String) {
        #expect(judge.evaluate(check, reading: reading, canary: canary) == .inconclusive(reason: expected))
    }

    @Test("values on the threshold pass", arguments: [
        (successRate, traffic(1_000, failures: 10)),
        (successRate, traffic(1, failures: 0)),
        (duration, traffic(1_204, p99: 500)),
        (errorRate, MetricReading.value(1, window: .seconds(60))),
    ])
    func boundariesPass(check: MetricCheck, reading: MetricReading) {
        #expect(judge.evaluate(check, reading: reading, canary: canary) == .pass)
    }

    @Test("a missing reading is inconclusive")
    func missingReading() {
        let request = request(metrics: [Self.duration])
        #expect(judge.judge(AnalysisSamples(), for: request).verdict
            == .inconclusive(reason: "request-duration: no readings collected (canary web-v2-service)"))
    }

    @Test("a failure outranks missing data, failures are joined, inconclusive outranks pass", arguments: [
        ([("request-success-rate", traffic(1_000, failures: 50, p99: 100)), ("request-duration", traffic(0))],
         Verdict.fail(reason: "request-success-rate 95.00% < 99% (canary web-v2-service, 1m, 1,000 requests)")),
        ([("request-success-rate", traffic(1_000, failures: 50)), ("request-duration", traffic(1_000, p99: 900))],
         .fail(reason: "request-success-rate 95.00% < 99% (canary web-v2-service, 1m, 1,000 requests); request-duration p99 900ms > 500ms (canary web-v2-service, 1m, 1,000 requests)")),
        ([("request-success-rate", traffic(1_000)), ("request-duration", traffic(1_000))],
         .inconclusive(reason: "request-duration: no p99 reported (canary web-v2-service, 1m, 1,000 requests)")),
        ([("request-success-rate", traffic(1_000)), ("request-duration", traffic(1_000, p99: 20))], .pass),
    ])
    func combining(readings: [(String, MetricReading)], expected: Verdict) {
        let samples = AnalysisSamples(Dictionary(uniqueKeysWithValues: readings))
        #expect(judge.judge(samples, for: request(metrics: [Self.successRate, Self.duration])).verdict == expected)
    }

    @Test("no metric checks pass, as in Flagger")
    func noMetrics() {
        #expect(judge.judge(AnalysisSamples(), for: request(metrics: [])).verdict == .pass)
    }

    @Test("stable readings are for display: they never change the canary's verdict", arguments: [
        (MetricSample(requests: 1_000, failures: 0, window: .seconds(60)), MetricSample(requests: 1_000, failures: 900, window: .seconds(60)), Verdict.pass),
        (MetricSample(requests: 1_000, failures: 100, window: .seconds(60)), MetricSample(requests: 1_000, failures: 100, window: .seconds(60)),
         .fail(reason: "request-success-rate 90.00% < 99% (canary web-v2-service, 1m, 1,000 requests)")),
    ])
    func stableIgnored(canarySample: MetricSample, stableSample: MetricSample, expected: Verdict) {
        let samples = AnalysisSamples(["request-success-rate": .traffic(canary: canarySample, stable: stableSample)])
        #expect(judge.judge(samples, for: request(metrics: [Self.successRate])).verdict == expected)
    }

    @Test("the canary is named with its subset and port when it has them")
    func destinationInReason() {
        let destination = Destination(host: "web-service", subset: "v2", port: 8080)
        let verdict = judge.evaluate(Self.duration, reading: Self.traffic(2, p99: 501), canary: destination)
        #expect(verdict == .fail(reason: "request-duration p99 501ms > 500ms (canary web-service subset v2:8080, 1m, 2 requests)"))
    }

    @Test("works behind the Judge protocol")
    func asExistential() {
        let judges: [any Judge] = [ThresholdJudge()]
        let samples = AnalysisSamples(["request-success-rate": Self.traffic(10, failures: 10)])
        #expect(judges[0].judge(samples, for: request(metrics: [Self.successRate])).verdict
            == .fail(reason: "request-success-rate 0.00% < 99% (canary web-v2-service, 1m, 10 requests)"))
    }

    private func request(metrics: [MetricCheck]) -> AnalysisRequest {
        AnalysisRequest(ticket: RolloutTicket(1), canaryName: Fixture.name, canary: canary, stable: Fixture.stable,
                        canaryWeight: 10, metrics: metrics)
    }
}

extension ThresholdJudgeTests {
    @Test("a metrics backend nobody could reach fails the check with its reason")
    func unavailableFails() {
        let verdict = ThresholdJudge().evaluate(
            .requestSuccessRate(min: 99), reading: .unavailable(reason: "Prometheus at http://127.0.0.1:9090 unreachable after 3 tries"),
            canary: Destination(host: "web-v2-service")
        )
        #expect(verdict == .fail(reason: "request-success-rate: Prometheus at http://127.0.0.1:9090 unreachable after 3 tries (canary web-v2-service)"))
    }
}
