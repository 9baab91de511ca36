import SerinCore
@testable import SerinPrometheus
import Testing

/// `PrometheusMetricProvider.histogram(buckets:)`: a `sum by (le) (increase(..._bucket[...]))` answer to a
/// `LatencyHistogram`, with no server.
@Suite("PrometheusMetricProvider's latency buckets")
struct LatencyBucketMappingTests {
    static func answer(_ cumulative: [(le: String, count: Double)]) -> PrometheusQueryResult {
        PrometheusMetricProviderTests.buckets(cumulative)
    }

    @Test("turns cumulative counts by le into rounded per-bucket counts, whatever order the series come in")
    func cumulativeToPerBucket() {
        let result = Self.answer([("+Inf", 1204.4), ("50", 1150.7), ("0.5", 0), ("25", 10.2), ("100", 1204.4)])
        #expect(PrometheusMetricProvider.histogram(buckets: result) == LatencyHistogram(bounds: [0.5, 25, 50, 100], counts: [0, 10, 1141, 53, 0]))
    }

    @Test("puts requests slower than every bound in the +Inf bucket")
    func slowerThanEveryBound() throws {
        let result = Self.answer([("10", 4), ("1e+06", 7), ("+Inf", 9.6)])
        let histogram = try #require(PrometheusMetricProvider.histogram(buckets: result))
        #expect(histogram.bounds == [10, 1_000_000])
        #expect(histogram.counts == [4, 3, 3])
        #expect(histogram.total == 10)
    }

    @Test("never makes a bucket negative when an extrapolated cumulative count dips below the one under it")
    func clampsDips() {
        // increase() extrapolates each series apart: le="50" came out below le="25".
        let result = Self.answer([("25", 100.4), ("50", 99.6), ("100", 150.2), ("+Inf", 149.9)])
        #expect(PrometheusMetricProvider.histogram(buckets: result) == LatencyHistogram(bounds: [25, 50, 100], counts: [100, 0, 50, 0]))
    }

    @Test("gives no histogram for no data, no requests, a failed query or an answer that is not a histogram", arguments: [
        PrometheusQueryResult.noData,
        .notANumber,
        .failed("Prometheus at http://127.0.0.1:9090 unreachable after 3 attempts: connection refused"),
        // A lone series has lost its le label.
        .value(12),
        // Series with no requests in the window: as for p99, nothing to compare.
        LatencyBucketMappingTests.answer([("25", 0), ("+Inf", 0)]),
        // Missing +Inf bucket, missing or non-numeric le, a repeated bound.
        LatencyBucketMappingTests.answer([("25", 3), ("50", 5)]),
        .multipleSeries([PrometheusSeries(labels: ["le": "25"], value: 3), PrometheusSeries(labels: [:], value: 5)]),
        LatencyBucketMappingTests.answer([("25", 3), ("slow", 4), ("+Inf", 5)]),
        LatencyBucketMappingTests.answer([("NaN", 3), ("+Inf", 5)]),
        LatencyBucketMappingTests.answer([("25", 3), ("25.0", 4), ("+Inf", 5)]),
        LatencyBucketMappingTests.answer([("+Inf", 3), ("+Inf", 5)]),
        // Counts that are not a finite number of requests.
        LatencyBucketMappingTests.answer([("25", -3), ("+Inf", 5)]),
        LatencyBucketMappingTests.answer([("25", .nan), ("+Inf", 5)]),
        LatencyBucketMappingTests.answer([("25", 3), ("+Inf", .infinity)]),
        LatencyBucketMappingTests.answer([("-1", 3), ("+Inf", 5)]),
    ])
    func noHistogram(result: PrometheusQueryResult) {
        #expect(PrometheusMetricProvider.histogram(buckets: result) == nil)
    }
}
