/// Traffic one destination served over a window, as a metric provider measured it.
public struct MetricSample: Hashable, Sendable, Codable {
    public var requests: Int
    /// Requests that failed (5xx, as Istio's `request-success-rate` counts them).
    public var failures: Int
    /// 99th percentile request duration in milliseconds; nil when the provider had no histogram data.
    public var p99Milliseconds: Double?
    /// How the durations spread, for judges that compare distributions; nil when the provider had no buckets.
    public var latency: LatencyHistogram?
    /// The window the numbers cover, e.g. the last `1m`.
    public var window: Duration
    /// Why the source had no numbers at all, when it had none (Prometheus holds no series for the destination):
    /// said beside a count too small to judge, so a person looks at the source and not only at the traffic.
    public var unseen: String?

    public init(
        requests: Int, failures: Int, p99Milliseconds: Double? = nil, latency: LatencyHistogram? = nil, window: Duration, unseen: String? = nil
    ) {
        self.unseen = unseen
        self.requests = requests
        self.failures = failures
        self.p99Milliseconds = p99Milliseconds
        self.latency = latency
        self.window = window
    }

    /// Percent of requests that did not fail; nil with no requests, where a rate means nothing.
    public var successRate: Double? {
        guard requests > 0 else { return nil }
        return Double(requests - failures) / Double(requests) * 100
    }
}
