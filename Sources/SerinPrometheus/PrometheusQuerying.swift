/// Runs one PromQL instant query: the seam between `PrometheusMetricProvider`'s decisions and the HTTP
/// client, so the provider's mapping is tested with canned answers and the client against real servers.
public protocol PrometheusQuerying: Sendable {
    /// `promql` evaluated at `time` (Unix seconds, as Prometheus's own clock gives it), or at the server's current
    /// time when nil.
    func query(_ promql: String, at time: Double?) async -> PrometheusQueryResult
}

extension PrometheusQuerying {
    /// `promql` at the server's current time.
    public func query(_ promql: String) async -> PrometheusQueryResult { await query(promql, at: nil) }
}
