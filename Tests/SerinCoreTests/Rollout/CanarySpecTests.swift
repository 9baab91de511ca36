import SerinCore
import Testing

@Suite("CanarySpec validation")
struct CanarySpecTests {
    @Test("a sound spec has no problems")
    func sound() throws {
        #expect(try Fixture.spec().problems.isEmpty)
        #expect(throws: Never.self) { try Rollout(spec: try Fixture.spec()) }
    }

    @Test("each unsound field is reported with what it is and what was expected", arguments: [
        ("interval", "analysis.interval is 0s, expected more than 0s"),
        ("threshold", "analysis.threshold is 0, expected at least 1"),
        ("deadline", "analysis.progressDeadline is 30s, expected more than analysis.interval 30s"),
        ("same", "canary is web-v1-service, expected a destination other than stable"),
        ("emptyHost", "canary.host is empty, expected a service host"),
        ("metricName", "analysis.metrics[1].name is request-success-rate, expected a name not already used by metrics[0]"),
        ("range", "analysis.metrics[0].thresholdRange is empty, expected min, max or both"),
        ("inverted", "analysis.metrics[0].thresholdRange has min 10 above max 5"),
        ("percent", "analysis.metrics[0].thresholdRange.min is 101, expected a percentage from 0 to 100"),
        ("metricInterval", "analysis.metrics[0].interval is 0s, expected more than 0s"),
        ("minRequests", "analysis.metrics[0].minRequests is -1, expected 0 or more"),
        ("hookName", "analysis.webhooks[1].name is gate, expected a name not already used by webhooks[0]"),
        ("hookURL", "analysis.webhooks[0].url is empty, expected a URL"),
        ("hookTimeout", "analysis.webhooks[0].timeout is 0s, expected more than 0s"),
    ])
    func problems(field: String, expected: String) throws {
        var spec = try Fixture.spec()
        switch field {
        case "interval": spec.analysis.interval = .zero
        case "threshold": spec.analysis.threshold = 0
        case "deadline": spec.analysis.progressDeadline = .seconds(30)
        case "same": spec.canary = Fixture.stable
        case "emptyHost": spec.canary = Destination(host: "")
        case "metricName": spec.analysis.metrics = [.requestSuccessRate(min: 99), .requestSuccessRate(min: 95)]
        case "range": spec.analysis.metrics[0].thresholdRange = ThresholdRange()
        case "inverted": spec.analysis.metrics[0].thresholdRange = ThresholdRange(min: 10, max: 5)
        case "percent": spec.analysis.metrics[0].thresholdRange = ThresholdRange(min: 101)
        case "metricInterval": spec.analysis.metrics[0].interval = .zero
        case "minRequests": spec.analysis.metrics[0].minRequests = -1
        case "hookName": spec.analysis.webhooks = [Fixture.hook(.confirmRollout, name: "gate"), Fixture.hook(.confirmPromotion, name: "gate")]
        case "hookURL": spec.analysis.webhooks = [WebhookSpec(name: "x", type: .rollout, url: "")]
        default: spec.analysis.webhooks = [WebhookSpec(name: "x", type: .rollout, url: "http://x", timeout: .zero)]
        }
        #expect(spec.problems.map(\.description) == [expected])
        #expect(throws: CanarySpecError(problems: spec.problems)) { try Rollout(spec: spec) }
    }

    @Test("all problems are reported at once")
    func allAtOnce() throws {
        var spec = try Fixture.spec()
        spec.analysis.threshold = 0
        spec.canary = Fixture.stable
        let error = CanarySpecError(problems: spec.problems)
        #expect(error.description == "canary is web-v1-service, expected a destination other than stable; analysis.threshold is 0, expected at least 1")
    }

    @Test("the built-in defaults are success rate at least 99% and p99 at most 500ms over 1m")
    func defaults() {
        #expect(MetricCheck.builtInDefaults == [
            MetricCheck(name: "request-success-rate", kind: .requestSuccessRate, thresholdRange: ThresholdRange(min: 99), interval: .seconds(60), minRequests: 1),
            MetricCheck(name: "request-duration", kind: .requestDuration, thresholdRange: ThresholdRange(max: 500), interval: .seconds(60), minRequests: 1),
        ])
    }
}
