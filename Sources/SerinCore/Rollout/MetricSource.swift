/// Where a metric's numbers come from, decoded from a Canary metric's or a MetricTemplate's `provider`.
public enum MetricSource: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The embedded gateway's own counters.
    case gateway
    /// A Prometheus server's HTTP API, e.g. `http://127.0.0.1:9090` or `https://host/prometheus`.
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
    /// PromQL with Flagger's variables: `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`, `{{ route }}`,
    /// `{{ interval }}`, `{{ variables.NAME }}`.
    public var query: String

    /// The names a query may use besides `variables.NAME`, in the order of Flagger's `MetricTemplateModel`: what
    /// `serin validate` accepts and what a check fills in.
    public static let builtInVariables = ["name", "namespace", "target", "service", "ingress", "route", "interval"]
    /// `provider.secretRef.name` (Flagger's field): a Secret in the template's namespace with the credentials
    /// (`token`, or `username` and `password`) and perhaps the `address`. Only Kubernetes mode reads Secrets.
    public var secretRef: String?

    public init(name: ResourceName, source: MetricSource, query: String, secretRef: String? = nil) {
        self.name = name
        self.source = source
        self.query = query
        self.secretRef = secretRef
    }
}
