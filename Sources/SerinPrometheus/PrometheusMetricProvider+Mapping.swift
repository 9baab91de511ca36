import SerinCore

/// The pure half of the provider: query results to samples and readings.
extension PrometheusMetricProvider {
    /// One destination's sample from its query results: a failed count or p99 fails the whole sample; the
    /// buckets only fill `latency` when they can (see `histogram(buckets:)`).
    static func sample(
        requests: PrometheusQueryResult, serverErrors: PrometheusQueryResult, p99: PrometheusQueryResult,
        buckets: PrometheusQueryResult, window: Duration, label: String
    ) -> Result<MetricSample, PrometheusError> {
        let requestCount: Int, errorCount: Int, p99Value: Double?
        switch (count(requests, "\(label) requests"), count(serverErrors, "\(label) server errors"), latency(p99, "\(label) p99")) {
        case (.success(let r), .success(let e), .success(let p)):
            (requestCount, errorCount, p99Value) = (r, e, p)
        case (.failure(let error), _, _), (_, .failure(let error), _), (_, _, .failure(let error)):
            return .failure(error)
        }
        // Both counts are extrapolated by increase() and rounded apart, so 5xx may come out one above
        // the total on a tiny window; a success rate below zero would only confuse.
        return .success(MetricSample(
            requests: requestCount, failures: min(errorCount, requestCount), p99Milliseconds: p99Value,
            latency: histogram(buckets: buckets), window: window, unseen: unseen(requests, window: window)
        ))
    }

    /// What no answer at all to the request count means (no series, not a count of zero): either nothing was sent to
    /// the destination, or Prometheus does not scrape Serin often enough to see it. `increase()` over a window needs two
    /// scrapes in it, so a scrape interval longer than half the window (Prometheus's default is 1m) never answers.
    static func unseen(_ requests: PrometheusQueryResult, window: Duration) -> String? {
        guard case .noData = requests else { return nil }
        return "Prometheus has no istio_requests_total series for it in the last \(Readable.duration(window)): "
            + "is it scraping Serin's /metrics, with a scrape_interval of \(Readable.duration(window / 2)) or less?"
    }

    /// The histogram in a `sum by (le) (increase(..._bucket[...]))` answer: one series per `le` bound, cumulative,
    /// `+Inf` the largest. Each bucket's count is its cumulative count less the one below, rounded.
    ///
    /// increase() extrapolates every series on its own, so a cumulative count can come out a little below the
    /// bound under it; a running maximum keeps every bucket at zero or more. Nil when there is nothing to
    /// compare: no data or no requests in the window (as for p99), a failed query (the counts still decide the
    /// error rate), or an answer that is not a histogram (a single series, an `le` that is missing or not a
    /// number, no `+Inf` bucket, a count that is not a finite number of zero or more).
    static func histogram(buckets result: PrometheusQueryResult) -> LatencyHistogram? {
        guard case .multipleSeries(let series) = result else { return nil }
        var cumulative: [(bound: Double, count: Double)] = []
        for one in series {
            guard let text = one.labels["le"], let bound = Double(text), !bound.isNaN,
                one.value.isFinite, one.value >= 0, one.value < 9.0e18
            else { return nil }
            cumulative.append((bound, one.value))
        }
        cumulative.sort { $0.bound < $1.bound }
        guard cumulative.last?.bound == .infinity else { return nil }
        var highest = 0.0
        var below = 0
        var counts: [Int] = []
        for bucket in cumulative {
            highest = max(highest, bucket.count)
            let upTo = Int(highest.rounded())
            counts.append(upTo - below)
            below = upTo
        }
        guard below > 0 else { return nil }
        // The bounds must ascend and be finite; a repeated `le` (or two `+Inf`) fails there.
        return LatencyHistogram(bounds: cumulative.dropLast().map(\.bound), counts: counts)
    }

    /// A count from `sum(increase(...))`: no data or NaN is zero (the series has not appeared yet, as a
    /// 5xx counter does not before the first error), anything not a finite non-negative number fails.
    static func count(_ result: PrometheusQueryResult, _ label: String) -> Result<Int, PrometheusError> {
        switch result {
        case .noData, .notANumber:
            return .success(0)
        case .value(let value):
            guard value.isFinite, value >= 0, value < 9.0e18 else {
                return .failure(PrometheusError("\(label): query returned \(value), expected a count of requests"))
            }
            return .success(Int(value.rounded()))
        case .multipleSeries(let series):
            return .failure(multipleSeriesError(series.count, label))
        case .failed(let reason):
            return .failure(PrometheusError("\(label): \(reason)"))
        }
    }

    /// A p99 in milliseconds: no data or NaN (no requests in the window) is no p99; `+Inf` is kept, since
    /// it means requests slower than the largest histogram bucket and must fail a maximum.
    static func latency(_ result: PrometheusQueryResult, _ label: String) -> Result<Double?, PrometheusError> {
        switch result {
        case .noData, .notANumber: return .success(nil)
        case .value(let value): return .success(value)
        case .multipleSeries(let series): return .failure(multipleSeriesError(series.count, label))
        case .failed(let reason): return .failure(PrometheusError("\(label): \(reason)"))
        }
    }

    /// A custom check's reading. NaN reads as "no values found", as in Flagger (a ratio over zero traffic
    /// is NaN), so it is inconclusive rather than failed; ±Inf is passed on as a value to compare.
    static func reading(custom result: PrometheusQueryResult, template: String, window: Duration) -> MetricReading {
        switch result {
        case .value(let value): .value(value, window: window)
        case .noData, .notANumber: .value(nil, window: window)
        case .multipleSeries(let series): .unavailable(reason: multipleSeriesError(series.count, "MetricTemplate \(template)").message)
        case .failed(let reason): .unavailable(reason: "MetricTemplate \(template): \(reason)")
        }
    }

    private static func multipleSeriesError(_ count: Int, _ label: String) -> PrometheusError {
        PrometheusError("\(label): query returned \(count) series, expected one: add sum(...)")
    }
}
