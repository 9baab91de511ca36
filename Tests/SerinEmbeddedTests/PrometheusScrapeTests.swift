import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinPrometheus
import SerinServer
import SerinTesting
import Testing

/// The gateway's `/metrics` scraped by a real Prometheus: Istio's metric names and labels, so queries
/// written for Istio (Flagger's built-ins among them) answer about Serin's traffic.
@Suite("Prometheus scraping the gateway", .timeLimit(.minutes(2)))
struct PrometheusScrapeTests {
    /// The value of an instant query, or nil when it has no sample yet.
    static func query(_ promql: String, prometheus: PrometheusServer, group: TestBackends) async throws -> Double? {
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: prometheus.port, group: group.group)
        defer { Task { await client.close() } }
        let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? promql
        let response = try await client.send(.GET, "/api/v1/query?query=\(encoded)", timeout: .seconds(5))
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let data = json?["data"] as? [String: Any]
        guard let result = (data?["result"] as? [[String: Any]])?.first, let value = result["value"] as? [Any],
            let text = value.last as? String
        else { return nil }
        return Double(text)
    }

    /// How far a success rate from Prometheus's rate()/increase() may be from the gateway's exact count, in points
    /// (see where it is used).
    static let rateTolerance = 8.0

    /// How far a count from Prometheus' increase() may be from the gateway's exact count, as a share of it: each
    /// series is extrapolated by up to half a scrape interval at the window's start and up to one at its end, over
    /// a series life of several seconds here (4.5% seen on a quiet machine).
    static let extrapolationTolerance = 0.25

    /// Polls `promql` until it has a value (scrapes land every second), for at most 20 seconds.
    static func eventually(_ promql: String, prometheus: PrometheusServer, group: TestBackends) async throws -> Double? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let value = try await query(promql, prometheus: prometheus, group: group) { return value }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    @Test(
        "Prometheus reads the gateway's counts, and Flagger's Istio queries answer for Serin's traffic",
        .enabled(if: PrometheusServer.shouldRun, "Prometheus is not installed here (apt-get install prometheus); CI runs this")
    )
    func scrapedCountsMatch() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2", errorRate: 0.3)
        let runtime = try await GatewayRuntime.seed(v1: v1.port, v2: v2.port, threads: 2, halfToCanary: true)
        let prometheus = try await PrometheusServer.start(scraping: ["127.0.0.1:\(runtime.admin.port)"], group: backends.group)
        defer { prometheus.stop() }
        try await prometheus.waitForFirstScrape(group: backends.group)

        let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
        // Warm up so every series exists before the measured traffic: Prometheus counts increases only
        // between scrapes of a series, never from a series' first sample.
        _ = try await DemoTraffic.run(port: port, connections: 2, requestsPerConnection: 20, group: backends.group)
        _ = try await Self.eventually(#"sum(istio_requests_total{destination_service_name="web-v2-service",response_code="500"})"#, prometheus: prometheus, group: backends)
        let before = runtime.gateway.telemetry.snapshot()
        let load = SteadyLoad()
        load.start(port: port, rate: 300, connections: 4, group: backends.group)
        try await Task.sleep(for: .seconds(4))
        await load.stop()
        #expect(load.failuresCausedByProxy.isEmpty)
        let counted = runtime.gateway.telemetry.snapshot().traffic(toHost: "web-v2-service")
        let measured = runtime.gateway.telemetry.snapshot().subtracting(before).traffic(toHost: "web-v2-service")

        // Poll until a scrape after the traffic has landed (scrapes are every second).
        let total = #"sum(istio_requests_total{reporter="destination",destination_service_name="web-v2-service"})"#
        var scraped: Double?
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            scraped = try await Self.query(total, prometheus: prometheus, group: backends)
            if scraped == Double(counted.requests) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(scraped == Double(counted.requests))
        let errors = try await Self.query(
            #"sum(istio_requests_total{destination_service_name="web-v2-service",response_code=~"5.*"})"#,
            prometheus: prometheus, group: backends
        )
        #expect(errors == Double(counted.serverErrors))

        // Flagger's Istio success-rate query, unchanged but for the workload the seed's Deployment names.
        let flaggerSuccessRate = #"""
            sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="default",destination_workload=~"web-v2",response_code!~"5.*"}[1m]))
            / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="default",destination_workload=~"web-v2"}[1m])) * 100
            """#
        // rate() needs two scrapes of a series; the series began with the traffic.
        let rate = try #require(try await Self.eventually(flaggerSuccessRate, prometheus: prometheus, group: backends))
        let expected = Double(measured.requests - measured.serverErrors) / Double(measured.requests) * 100
        // rate() extrapolates each series to the window's edges by up to half a scrape interval, and the 5xx
        // series begins at a different scrape than the others, so over ten seconds of series life the share of
        // non-5xx answers is off the gateway's exact count by a few points (3.2 and 5.1 seen on a loaded
        // machine); the exact counts are checked above. Counting the wrong series is off by far more: v1's
        // answers (all 2xx, half the traffic) taken in would read about 85% for this canary's 70%.
        #expect(abs(rate - expected) < Self.rateTolerance, "Prometheus says \(rate)%, the gateway counted \(expected)%")
        let p99 = try await Self.eventually(
            #"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload=~"web-v2"}[1m])) by (le))"#,
            prometheus: prometheus, group: backends
        )
        #expect(p99 != nil && p99! > 0)
        // Serin's own Prometheus provider and the gateway's counters, on the same traffic and window.
        let request = AnalysisRequest(
            ticket: RolloutTicket(1), canaryName: ResourceName(name: "web"), canary: Destination(host: "web-v2-service"),
            stable: Destination(host: "web-v1-service"), canaryWeight: 50,
            metrics: [.requestSuccessRate(min: 99, interval: .seconds(30)), .requestDuration(maxMilliseconds: 500, interval: .seconds(30))]
        )
        let fromPrometheus = await PrometheusMetricProvider(client: PrometheusClient(address: prometheus.address))
            .samples(for: request)[metric: "request-success-rate"]
        let fromGateway = await GatewayMetricProvider(history: runtime.history).samples(for: request)[metric: "request-success-rate"]
        guard case .traffic(let promCanary, let promStable?) = fromPrometheus, case .traffic(let gateCanary, let gateStable?) = fromGateway else {
            Issue.record("expected traffic readings, got \(String(describing: fromPrometheus)) and \(String(describing: fromGateway))")
            return
        }
        #expect(abs((promCanary.successRate ?? 0) - (gateCanary.successRate ?? 0)) < Self.rateTolerance, "\(promCanary) vs \(gateCanary)")
        #expect(abs(Double(promStable.requests - gateStable.requests)) <= Double(gateStable.requests) * Self.extrapolationTolerance,
            "\(promStable) vs \(gateStable)")
        // Both estimate p99 from the same Istio buckets the same way (linear within the bucket). Prometheus reads the
        // counters at its scrapes and the gateway at this moment, so the windows differ by up to a scrape: near a
        // bucket's edge the two may land in neighbouring buckets, never further apart.
        let promP99 = try #require(promCanary.p99Milliseconds)
        let gateP99 = try #require(gateCanary.p99Milliseconds)
        let promBucket = try #require(Histogram.durationBounds.firstIndex { promP99 <= $0 })
        let gateBucket = try #require(Histogram.durationBounds.firstIndex { gateP99 <= $0 })
        #expect(abs(promBucket - gateBucket) <= 1, "\(promP99) vs \(gateP99)")

        // The latency histograms. The gateway's holds every request it counted, in Istio's buckets.
        #expect(gateCanary.latency?.bounds == Histogram.durationBounds && gateCanary.latency?.total == gateCanary.requests, "\(gateCanary)")
        #expect(gateStable.latency?.total == gateStable.requests, "\(gateStable)")
        // Prometheus' reads back the same bounds from the le labels the gateway wrote. Its buckets and its request
        // count select the same series from the same scrapes, so increase() extrapolates them alike: they agree
        // to rounding, unless a scrape landed between the two queries (the window's extrapolation then differs by
        // up to a scrape's share of the series' life); such a reading is taken again.
        var (promRequests, promLatency) = (promCanary.requests, promCanary.latency)
        let rereadUntil = ContinuousClock.now + .seconds(10)
        while abs((promLatency?.total ?? 0) - promRequests) > 1, ContinuousClock.now < rereadUntil {
            try await Task.sleep(for: .milliseconds(100))
            let again = await PrometheusMetricProvider(client: PrometheusClient(address: prometheus.address)).samples(for: request)
            if case .traffic(let canary, _) = again[metric: "request-duration"] { (promRequests, promLatency) = (canary.requests, canary.latency) }
        }
        let promHistogram = try #require(promLatency, "\(promCanary)")
        #expect(promHistogram.bounds == Histogram.durationBounds)
        #expect(abs(promHistogram.total - promRequests) <= 1, "\(promHistogram.counts) vs \(promRequests) requests")
        // Against the gateway's exact count, the histogram is off by increase()'s extrapolation, as the counts are.
        #expect(abs(Double(promHistogram.total - gateCanary.requests)) <= Double(gateCanary.requests) * Self.extrapolationTolerance,
            "\(promHistogram.counts) vs \(gateCanary)")

        // Flagger's documented Istio templates, unchanged: `{{ target }}` is the canary's workload, the Deployment
        // the gateway's telemetry names for its endpoints — not its service, which selects no series.
        let workload = await runtime.live.config.workload(serving: Destination(host: "web-v2-service"))
        #expect(workload == "web-v2")
        var flagger = request
        flagger.canaryWorkload = workload
        flagger.metrics = [
            MetricCheck(name: "flagger-success-rate", kind: .custom(template: "flagger-success-rate"), thresholdRange: ThresholdRange(min: 99), interval: .seconds(30)),
            MetricCheck(name: "flagger-duration", kind: .custom(template: "flagger-duration"), thresholdRange: ThresholdRange(max: 500), interval: .seconds(30)),
        ]
        let flaggerProvider = PrometheusMetricProvider(
            client: PrometheusClient(address: prometheus.address),
            templates: ["flagger-success-rate": IstioQueries.flaggerRequestSuccessRate, "flagger-duration": IstioQueries.flaggerRequestDuration]
        )
        let flaggerSamples = await flaggerProvider.samples(for: flagger)
        guard case .value(let flaggerRate?, _) = flaggerSamples[metric: "flagger-success-rate"],
            case .value(let flaggerP99?, _) = flaggerSamples[metric: "flagger-duration"]
        else {
            Issue.record("Flagger's templates found no data for target \(String(describing: workload)): \(flaggerSamples)")
            return
        }
        #expect(abs(flaggerRate - expected) < Self.rateTolerance, "Flagger's template says \(flaggerRate)%, the gateway counted \(expected)%")
        #expect(flaggerP99 > 0)

        // The gateway counts a request once its answer is written, a moment after the client has it: the scrape that
        // settled web-v2's count above may have come before web-v1's last one was counted, so it is read until a later
        // scrape has it.
        let stableRequests = Double(runtime.gateway.telemetry.snapshot().traffic(toHost: "web-v1-service").requests)
        var bytes: Double?
        let bytesDeadline = ContinuousClock.now + .seconds(20)
        repeat {
            bytes = try await Self.query(#"sum(istio_response_bytes_count{destination_service_name="web-v1-service"})"#, prometheus: prometheus, group: backends)
            if bytes == stableRequests { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < bytesDeadline
        #expect(bytes == stableRequests)

        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}
