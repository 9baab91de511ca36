/// One element of an instant vector that has several: its labels and its value, so a query that means to return
/// several series (a histogram's buckets, `sum by (le)`) is read whole instead of refused.
public struct PrometheusSeries: Hashable, Sendable {
    /// The series' labels, e.g. `["le": "250"]`.
    public var labels: [String: String]
    /// The sample's value; `NaN` and `±Inf` kept as Prometheus wrote them.
    public var value: Double

    public init(labels: [String: String], value: Double) {
        self.labels = labels
        self.value = value
    }
}
