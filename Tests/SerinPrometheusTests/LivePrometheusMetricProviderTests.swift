import Hummingbird
import NIOPosix
import SerinController
import SerinCore
import SerinListener
import SerinPrometheus
import SerinTesting
import Testing

/// Serves Istio-named counters that grow by a fixed step on every scrape.
actor IstioExporter {
    private var scrapes = 0

    func scrape() -> String {
        scrapes += 1
        let n = scrapes * 1000
        func labels(_ service: String, _ namespace: String, _ code: Int, reporter: String = "destination") -> String {
            #"reporter="\#(reporter)",destination_service_name="\#(service)",destination_service_namespace="\#(namespace)",response_code="\#(code)""#
        }
        var text = "# TYPE istio_requests_total counter\n"
        text += "istio_requests_total{\(labels("web-v2-service", "default", 200))} \(n * 9 / 10)\n"
        text += "istio_requests_total{\(labels("web-v2-service", "default", 503))} \(n / 10)\n"
        text += "istio_requests_total{\(labels("web-v1-service", "default", 200))} \(n)\n"
        // Same service in another namespace, and the source side's view: both must be left out.
        text += "istio_requests_total{\(labels("web-v2-service", "other", 500))} \(n)\n"
        text += "istio_requests_total{\(labels("web-v2-service", "default", 500, reporter: "source"))} \(n)\n"
        text += "# TYPE istio_request_duration_milliseconds histogram\n"
        for (service, slowBound) in [("web-v2-service", 100), ("web-v1-service", 10)] {
            let base = labels(service, "default", 200)
            for bound in [10, 50, 100] {
                let count = bound >= slowBound ? n : 0
                text += "istio_request_duration_milliseconds_bucket{\(base),le=\"\(bound)\"} \(count)\n"
            }
            text += "istio_request_duration_milliseconds_bucket{\(base),le=\"+Inf\"} \(n)\n"
            text += "istio_request_duration_milliseconds_count{\(base)} \(n)\n"
        }
        return text
    }
}

@Suite("PrometheusMetricProvider against a real Prometheus", .enabled(if: PrometheusServer.shouldRun, Comment(rawValue: PrometheusServer.skipReason)))
struct LivePrometheusMetricProviderTests {
    /// Whether a sample's histogram counts as many requests as its request query, give or take rounding: the
    /// exporter's counters and buckets come in the same scrapes, so increase() extrapolates them alike, unless
    /// the two queries ran on either side of a scrape.
    static func sameScrapes(_ sample: MetricSample) -> Bool {
        guard let total = sample.latency?.total else { return false }
        return abs(total - sample.requests) <= 1
    }

    @Test("measures canary and stable from Istio series that Prometheus scraped")
    func endToEnd() async throws {
        let exporter = IstioExporter()
        let target = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { _ in
            .content(await exporter.scrape(), contentType: "text/plain; version=0.0.4")
        }
        let prometheus = try await PrometheusServer.start(scraping: ["127.0.0.1:\(target.port)"], group: MultiThreadedEventLoopGroup.singleton)
        defer { prometheus.stop() }
        let provider = PrometheusMetricProvider(client: PrometheusClient(address: prometheus.address))
        let request = AnalysisRequest(
            ticket: RolloutTicket(1), canaryName: ResourceName(namespace: "default", name: "web"),
            canary: Destination(host: "web-v2-service.default.svc.cluster.local"), stable: Destination(host: "web-v1-service"),
            canaryWeight: 10,
            metrics: [.requestSuccessRate(min: 99, interval: .seconds(90)), .requestDuration(maxMilliseconds: 500, interval: .seconds(90))]
        )
        // increase() and rate() need two scrapes of each series: poll until every series has answered (errors
        // counted, both p99s and histograms known), up to 30s. The counters grow at every scrape, and the eight
        // queries all read Prometheus at one instant, so they agree on the scrapes they see (before, queries on
        // either side of a scrape on a busy machine disagreed by a thousand requests, and a whole 30 s of
        // readings could). A provider that counted the wrong series (another namespace, the source reporter) is
        // off every time and fails below.
        var reading: MetricReading?
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            reading = await provider.samples(for: request)[metric: "request-success-rate"]
            if case .traffic(let canary, let stable?) = reading, canary.requests > 0, stable.requests > 0, canary.failures > 0,
                canary.p99Milliseconds != nil, stable.p99Milliseconds != nil, abs((canary.successRate ?? 0) - 90) < 2,
                Self.sameScrapes(canary), Self.sameScrapes(stable)
            {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Kubernetes mode's path to the same queries: the controller's routed provider, its default source Prometheus.
        let routed = await RoutedMetricProvider(defaultSource: .prometheus(address: prometheus.address), gateway: nil, templates: { [] })
            .samples(for: request)[metric: "request-duration"]
        await target.close()
        guard case .traffic(let canary, let stable?) = reading, canary.requests > 0, stable.requests > 0 else {
            Issue.record("no traffic measured within 30s: \(String(describing: reading))")
            return
        }
        #expect(abs((canary.successRate ?? 0) - 90) < 2, "\(canary)")
        #expect(abs((canary.p99Milliseconds ?? 0) - 99.5) < 0.01, "\(canary)")
        #expect(stable.failures == 0 && abs((stable.p99Milliseconds ?? 0) - 9.9) < 0.01, "\(stable)")
        #expect(canary.window == .seconds(90))
        // Every canary request took (50, 100] ms in the exporter's histogram, every stable one at most 10 ms.
        #expect(Self.sameScrapes(canary) && Self.sameScrapes(stable), "\(canary) vs \(stable)")
        let (canaryTotal, stableTotal) = (canary.latency?.total ?? 0, stable.latency?.total ?? 0)
        #expect(canary.latency == LatencyHistogram(bounds: [10, 50, 100], counts: [0, 0, canaryTotal, 0]), "\(canary)")
        #expect(stable.latency == LatencyHistogram(bounds: [10, 50, 100], counts: [stableTotal, 0, 0, 0]), "\(stable)")
        guard case .traffic(let routedCanary, let routedStable?) = routed else {
            Issue.record("expected traffic through the routed provider, got \(String(describing: routed))")
            return
        }
        #expect(routedCanary.latency?.counts.dropLast(2).allSatisfy { $0 == 0 } == true && (routedCanary.latency?.total ?? 0) > 0, "\(routedCanary)")
        #expect(routedStable.latency?.counts.dropFirst().allSatisfy { $0 == 0 } == true && (routedStable.latency?.total ?? 0) > 0, "\(routedStable)")
        let verdict = ThresholdJudge().judge(AnalysisSamples(["request-success-rate": .traffic(canary: canary, stable: stable)]), for: request).verdict
        guard case .fail(let reason) = verdict else {
            Issue.record("expected the 10% 5xx canary to fail, got \(verdict)")
            return
        }
        #expect(reason.hasPrefix("request-success-rate ") && reason.contains("% < 99% (canary web-v2-service"), "\(reason)")
    }
}
