/// Where a metric's numbers come from, decoded from a Canary metric's or a MetricTemplate's `provider`.
public enum MetricSource: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The embedded gateway's own counters.
    case gateway
    /// A Prometheus server's HTTP API, e.g. `http://127.0.0.1:9090`.
    case prometheus(address: String)

    public var description: String {
        switch self {
        case .gateway: return "gateway"
        case .prometheus(let address): return "prometheus \(address)"
        }
    }
}

/// A custom metric's query and where to run it: a `MetricTemplate` resource (Serin's, or Flagger's read unchanged).
public struct MetricTemplateSpec: Hashable, Sendable, Codable {
    public var name: ResourceName
    public var source: MetricSource
    /// PromQL with Flagger's variables: `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ interval }}`, `{{ variables.NAME }}`.
    public var query: String

    public init(name: ResourceName, source: MetricSource, query: String) {
        self.name = name
        self.source = source
        self.query = query
    }
}
