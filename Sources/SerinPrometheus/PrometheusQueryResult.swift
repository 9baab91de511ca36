/// What one instant query answered, with Flagger's "no values found" and NaN kept apart from errors so the
/// caller decides what each means for its metric.
public enum PrometheusQueryResult: Hashable, Sendable, CustomStringConvertible {
    /// A one-element instant vector or a scalar. `+Inf` and `-Inf` arrive here as `±.infinity`: they are
    /// real answers (a p99 beyond the largest histogram bucket is `+Inf`) and compare correctly with bounds.
    case value(Double)
    /// An empty vector: the series does not exist (yet) in the window, Flagger's "no values found".
    case noData
    /// Prometheus answered `NaN`, e.g. a ratio or `histogram_quantile` over zero traffic.
    case notANumber
    /// An instant vector with more than one element, each series with its labels and value: a query that
    /// selects one number needs a `sum(...)`; a histogram's buckets (`sum by (le)`) come this way.
    case multipleSeries([PrometheusSeries])
    /// Prometheus refused or failed the query, answered something other than an instant vector or scalar,
    /// or could not be reached; the text says which.
    case failed(String)

    public var description: String {
        switch self {
        case .value(let value): "value \(value)"
        case .noData: "no values found"
        case .notANumber: "NaN"
        case .multipleSeries(let series): "\(series.count) series"
        case .failed(let reason): "failed: \(reason)"
        }
    }
}
