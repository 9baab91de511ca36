import SerinController
import SerinCore
import SerinPrometheus
import Testing

/// Answers rendered queries from a table and logs them, with the instant each was asked for; a query missing from
/// the table fails loudly. `time()`, Prometheus's clock, answers `now` (and is not logged among the queries).
struct CannedPrometheus: PrometheusQuerying {
    let answers: [String: PrometheusQueryResult]
    var now: Double = 1_700_000_000.25
    let log = QueryLog()

    func query(_ promql: String, at time: Double?) async -> PrometheusQueryResult {
        if promql == "time()" { return .value(now) }
        await log.record(promql, at: time)
        return answers[promql] ?? .failed("unexpected query \(promql)")
    }
}

actor QueryLog {
    private(set) var queries: [String] = []
    private(set) var instants: [Double?] = []
    func record(_ query: String, at time: Double?) {
        queries.append(query)
        instants.append(time)
    }
}

@Suite("PrometheusMetricProvider")
struct PrometheusMetricProviderTests {
    static let canary = Destination(host: "web-v2-service.default.svc.cluster.local")
    static let stable = Destination(host: "web-v1-service")

    static func request(_ metrics: [MetricCheck]) -> AnalysisRequest {
        AnalysisRequest(
            ticket: RolloutTicket(7), canaryName: ResourceName(namespace: "default", name: "web"),
            canary: canary, stable: stable, canaryWeight: 10, metrics: metrics
        )
    }

    /// The four built-in queries for `service` over one minute, answered with the given results.
    static func traffic(
        _ service: String, requests: PrometheusQueryResult, errors: PrometheusQueryResult, p99: PrometheusQueryResult,
        buckets: PrometheusQueryResult = .noData
    ) -> [String: PrometheusQueryResult] {
        let selector = #"reporter="destination",destination_service_namespace="default",destination_service_name="\#(service)""#
        return [
            "sum(increase(istio_requests_total{\(selector)}[1m]))": requests,
            "(sum(increase(istio_requests_total{\(selector),response_code=~\"5.*\"}[1m])) or vector(0)) + (sum(increase("
                + "istio_requests_total{\(selector),response_code!~\"5.*\",grpc_response_status=~\"2|4|12|13|14|15\"}[1m])) or vector(0))": errors,
            "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{\(selector)}[1m])) by (le))": p99,
            "sum by (le) (increase(istio_request_duration_milliseconds_bucket{\(selector)}[1m]))": buckets,
        ]
    }

    /// A `sum by (le)` answer: one series per bound, cumulative counts, `+Inf` last.
    static func buckets(_ cumulative: [(le: String, count: Double)]) -> PrometheusQueryResult {
        .multipleSeries(cumulative.map { PrometheusSeries(labels: ["le": $0.le], value: $0.count) })
    }

    static let quietStable = traffic("web-v1-service", requests: .value(3000), errors: .noData, p99: .value(20))

    func samples(
        _ answers: [String: PrometheusQueryResult], metrics: [MetricCheck] = MetricCheck.builtInDefaults,
        templates: [String: QueryTemplate] = [:], variables: [String: String] = [:]
    ) async -> (AnalysisSamples, CannedPrometheus) {
        let prometheus = CannedPrometheus(answers: answers)
        let provider = PrometheusMetricProvider(client: prometheus, templates: templates, variables: variables)
        return (await provider.samples(for: Self.request(metrics)), prometheus)
    }

    @Test("builds canary and stable samples from rounded counts and p99")
    func traffic() async {
        let answers = Self.traffic("web-v2-service", requests: .value(1204.4), errors: .value(46.2), p99: .value(812.5))
            .merging(Self.quietStable) { $1 }
        let (samples, prometheus) = await samples(answers)
        let expected = MetricReading.traffic(
            canary: MetricSample(requests: 1204, failures: 46, p99Milliseconds: 812.5, window: .seconds(60)),
            stable: MetricSample(requests: 3000, failures: 0, p99Milliseconds: 20, window: .seconds(60))
        )
        #expect(samples[metric: "request-success-rate"] == expected)
        #expect(samples[metric: "request-duration"] == expected)
        // Both built-in checks share a window, so each of the eight queries runs once.
        #expect(Set(await prometheus.log.queries) == Set(answers.keys))
        #expect(await prometheus.log.queries.count == 8)
        // All eight read the same instant, Prometheus's own now: none sees a scrape the others do not.
        #expect(await prometheus.log.instants == Array(repeating: prometheus.now, count: 8))
        let verdict = ThresholdJudge().judge(samples, for: Self.request(MetricCheck.builtInDefaults)).verdict
        #expect(verdict == .fail(reason:
            "request-success-rate 96.18% < 99% (canary web-v2-service.default.svc.cluster.local, 1m, 1,204 requests); "
                + "request-duration p99 812.5ms > 500ms (canary web-v2-service.default.svc.cluster.local, 1m, 1,204 requests)"))
    }

    @Test("reads no request series as zero requests, which the judge calls inconclusive and says Prometheus saw none, not that none were sent")
    func noRequests() async {
        let answers = Self.traffic("web-v2-service", requests: .noData, errors: .noData, p99: .notANumber)
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        guard case .traffic(let canary, let stable) = samples[metric: "request-success-rate"] else {
            Issue.record("expected traffic, got \(String(describing: samples[metric: "request-success-rate"]))")
            return
        }
        let unseen = "Prometheus has no istio_requests_total series for it in the last 1m: "
            + "is it scraping Serin's /metrics, with a scrape_interval of 30s or less?"
        #expect(canary == MetricSample(requests: 0, failures: 0, p99Milliseconds: nil, window: .seconds(60), unseen: unseen))
        #expect(stable?.unseen == nil, "the stable's series answered")
        let verdict = ThresholdJudge().judge(samples, for: Self.request(MetricCheck.builtInDefaults)).verdict
        #expect(verdict == .inconclusive(reason:
            "request-success-rate: no requests to judge (canary web-v2-service.default.svc.cluster.local, 1m): \(unseen); "
                + "request-duration: no requests to judge (canary web-v2-service.default.svc.cluster.local, 1m): \(unseen)"))
    }

    @Test("a series that counted no requests in the window is zero requests, with nothing said of Prometheus")
    func zeroRequests() async {
        let answers = Self.traffic("web-v2-service", requests: .value(0), errors: .noData, p99: .notANumber)
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        #expect(samples[metric: "request-success-rate"] == .traffic(
            canary: MetricSample(requests: 0, failures: 0, window: .seconds(60)),
            stable: MetricSample(requests: 3000, failures: 0, p99Milliseconds: 20, window: .seconds(60))))
    }

    @Test("reads a NaN p99 as no p99 and keeps +Inf so it fails a maximum", arguments: [
        (PrometheusQueryResult.notANumber, nil as Double?),
        (.noData, nil),
        (.value(.infinity), .infinity),
    ])
    func p99(result: PrometheusQueryResult, expected: Double?) async {
        let answers = Self.traffic("web-v2-service", requests: .value(100), errors: .value(0), p99: result)
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        guard case .traffic(let canary, _) = samples[metric: "request-duration"] else {
            Issue.record("expected traffic, got \(String(describing: samples[metric: "request-duration"]))")
            return
        }
        #expect(canary.p99Milliseconds == expected)
    }

    @Test("fills each side's latency histogram from its bucket query")
    func latencyHistograms() async throws {
        let canaryBuckets = Self.buckets([("25", 10.2), ("50", 1150.7), ("100", 1204.4), ("+Inf", 1204.4)])
        let stableBuckets = Self.buckets([("25", 2990), ("50", 3000), ("100", 3000), ("+Inf", 3000)])
        let answers = Self.traffic("web-v2-service", requests: .value(1204.4), errors: .value(0), p99: .value(98), buckets: canaryBuckets)
            .merging(Self.traffic("web-v1-service", requests: .value(3000), errors: .noData, p99: .value(20), buckets: stableBuckets)) { $1 }
        let (samples, _) = await samples(answers)
        guard case .traffic(let canary, let stable?) = samples[metric: "request-duration"] else {
            Issue.record("expected traffic, got \(String(describing: samples[metric: "request-duration"]))")
            return
        }
        #expect(canary.latency == LatencyHistogram(bounds: [25, 50, 100], counts: [10, 1141, 53, 0]))
        #expect(canary.latency?.total == canary.requests)
        #expect(stable.latency == LatencyHistogram(bounds: [25, 50, 100], counts: [2990, 10, 0, 0]))
    }

    @Test("keeps the counts when the bucket query fails or answers no histogram, with no latency histogram", arguments: [
        PrometheusQueryResult.failed("Prometheus at http://127.0.0.1:9090 rejected query: bad_data (HTTP 400)"),
        .noData,
        PrometheusMetricProviderTests.buckets([("fast", 3), ("+Inf", 5)]),
    ])
    func bucketQueryWithoutHistogram(buckets: PrometheusQueryResult) async {
        let answers = Self.traffic("web-v2-service", requests: .value(100), errors: .value(2), p99: .value(5), buckets: buckets)
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        #expect(samples[metric: "request-success-rate"] == .traffic(
            canary: MetricSample(requests: 100, failures: 2, p99Milliseconds: 5, window: .seconds(60)),
            stable: MetricSample(requests: 3000, failures: 0, p99Milliseconds: 20, window: .seconds(60))
        ))
    }

    @Test("makes a failed query, on either side, an unavailable reading the judge fails")
    func failedQuery() async {
        let failure = "Prometheus at http://127.0.0.1:9090 unreachable after 3 attempts: connection refused"
        let answers = Self.traffic("web-v2-service", requests: .value(100), errors: .value(0), p99: .value(5))
            .merging(Self.traffic("web-v1-service", requests: .value(100), errors: .failed(failure), p99: .value(5))) { $1 }
        let (samples, _) = await samples(answers)
        #expect(samples[metric: "request-success-rate"] == .unavailable(reason: "stable default/web-v1-service server errors: \(failure)"))
        let verdict = ThresholdJudge().judge(samples, for: Self.request([.requestSuccessRate(min: 99)])).verdict
        guard case .fail(let reason) = verdict else {
            Issue.record("expected a failed verdict, got \(verdict)")
            return
        }
        #expect(reason.contains(failure))
    }

    @Test("asks for a sum when a query returns several series")
    func multipleSeries() async {
        let answers = Self.traffic("web-v2-service", requests: .multipleSeries([
            PrometheusSeries(labels: ["pod": "a"], value: 1), PrometheusSeries(labels: ["pod": "b"], value: 2),
        ]), errors: .value(0), p99: .value(5))
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        #expect(samples[metric: "request-success-rate"]
            == .unavailable(reason: "canary default/web-v2-service requests: query returned 2 series, expected one: add sum(...)"))
    }

    @Test("refuses counts that are not finite and non-negative", arguments: [Double.infinity, -3])
    func badCounts(value: Double) async {
        let answers = Self.traffic("web-v2-service", requests: .value(value), errors: .value(0), p99: .value(5))
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        #expect(samples[metric: "request-success-rate"]
            == .unavailable(reason: "canary default/web-v2-service requests: query returned \(value), expected a count of requests"))
    }

    @Test("never reports more failures than requests")
    func clampsFailures() async {
        let answers = Self.traffic("web-v2-service", requests: .value(2.4), errors: .value(2.6), p99: .value(5))
            .merging(Self.quietStable) { $1 }
        let (samples, _) = await samples(answers)
        guard case .traffic(let canary, _) = samples[metric: "request-success-rate"] else {
            Issue.record("expected traffic")
            return
        }
        #expect(canary.requests == 2 && canary.failures == 2)
    }

    static let errorRate = QueryTemplate(
        #"sum(rate(http_errors{ns="{{ namespace }}",svc="{{ target }}",cluster="{{ variables.cluster }}"}[{{ interval }}]))"#
    )
    static let errorRateQuery = #"sum(rate(http_errors{ns="default",svc="web-v2-service",cluster="eu-1"}[30s]))"#
    static let customCheck = MetricCheck(name: "error-rate", kind: .custom(template: "error-rate"), thresholdRange: ThresholdRange(max: 1), interval: .seconds(30))

    @Test("renders a custom template for the canary and maps its result", arguments: [
        (PrometheusQueryResult.value(0.5), MetricReading.value(0.5, window: .seconds(30))),
        (.noData, .value(nil, window: .seconds(30))),
        (.notANumber, .value(nil, window: .seconds(30))),
        (.value(.infinity), .value(.infinity, window: .seconds(30))),
        (.failed("bad_data: parse error"), .unavailable(reason: "MetricTemplate error-rate: bad_data: parse error")),
        (.multipleSeries([PrometheusSeries(labels: [:], value: 1), PrometheusSeries(labels: [:], value: 2)]), .unavailable(reason: "MetricTemplate error-rate: query returned 2 series, expected one: add sum(...)")),
    ])
    func custom(result: PrometheusQueryResult, expected: MetricReading) async {
        let (samples, prometheus) = await samples(
            [Self.errorRateQuery: result], metrics: [Self.customCheck],
            templates: ["error-rate": Self.errorRate], variables: ["cluster": "eu-1"]
        )
        #expect(samples[metric: "error-rate"] == expected)
        #expect(await prometheus.log.queries == [Self.errorRateQuery])
        #expect(await prometheus.log.instants == [nil], "a lone query reads the server's now: there is nothing to agree with")
    }

    @Test("renders a workload Canary's MetricTemplate as Flagger does: {{ name }} is the Canary's, {{ service }} is service.name, not the -canary Service; {{ target }}, {{ ingress }} and {{ route }} the target Deployment")
    func flaggerNames() async {
        let query = "up{canary=\"checkout\",svc=\"frontend\",target=\"shop\",ingress=\"shop\",route=\"shop\",ns=\"store\"}"
        let prometheus = CannedPrometheus(answers: [query: .value(1)])
        let template = QueryTemplate(
            "up{canary=\"{{ name }}\",svc=\"{{ service }}\",target=\"{{ target }}\",ingress=\"{{ ingress }}\",route=\"{{ route }}\",ns=\"{{ namespace }}\"}")
        let provider = PrometheusMetricProvider(client: prometheus, templates: ["error-rate": template])
        // The Canary is named apart from its target, so {{ name }} cannot pass for {{ target }}.
        let request = AnalysisRequest(
            ticket: RolloutTicket(1), canaryName: ResourceName(namespace: "store", name: "checkout"),
            canary: Destination(host: "frontend-canary", port: 80), stable: Destination(host: "frontend-primary", port: 80),
            canaryWeight: 10, metrics: [Self.customCheck], canaryWorkload: "shop", apexService: "frontend")
        let samples = await provider.samples(for: request)
        #expect(await prometheus.log.queries == [query])
        #expect(samples[metric: "error-rate"] == .value(1, window: .seconds(30)))
    }

    @Test("reports a missing MetricTemplate by name without querying")
    func missingTemplate() async {
        let (samples, prometheus) = await samples([:], metrics: [Self.customCheck], templates: ["latency": Self.errorRate])
        #expect(samples[metric: "error-rate"] == .unavailable(reason: "no MetricTemplate named error-rate; known: latency"))
        #expect(await prometheus.log.queries.isEmpty)
    }

    @Test("reports a template's unknown variable without querying")
    func unknownVariable() async {
        let (samples, prometheus) = await samples([:], metrics: [Self.customCheck], templates: ["error-rate": Self.errorRate])
        #expect(samples[metric: "error-rate"] == .unavailable(reason:
            #"MetricTemplate error-rate: query template: unknown variable "variables.cluster", expected one of name, namespace, target, service, ingress, route, interval"#))
        #expect(await prometheus.log.queries.isEmpty)
    }
}
