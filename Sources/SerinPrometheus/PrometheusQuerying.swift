/// Runs one PromQL instant query: the seam between `PrometheusMetricProvider`'s decisions and the HTTP
/// client, so the provider's mapping is tested with canned answers and the client against real servers.
public protocol PrometheusQuerying: Sendable {
    func query(_ promql: String) async -> PrometheusQueryResult
}
