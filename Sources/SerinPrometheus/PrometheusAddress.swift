import SerinCore

extension PrometheusAddress {
    /// The URL of an API path, e.g. `/api/v1/query?query=...`.
    func url(_ path: String) -> String { display + path }
}
