/// Renders the gateway's counters in the Prometheus text format, named and labelled like Istio's
/// standard metrics so existing Istio queries and dashboards read them unchanged.
///
/// The series carry `reporter="destination"`: the embedded gateway is the only proxy in front of each
/// workload, so it reports what a destination sidecar would — the series Istio-era queries (Flagger's
/// built-ins among them) filter on. Copies a route's `mirror` sends are their own series, `request_kind="mirror"`,
/// and so is Serin's synthetic load, `request_kind="synthetic"` (live requests are `request_kind="live"`), so
/// neither passes for answers clients got.
public enum PrometheusExposition {
    public static func render(_ snapshot: TelemetrySnapshot) -> String {
        let series = snapshot.series.map { (labels: labels(for: $0.key), counters: $0.value) }.sorted { $0.labels < $1.labels }
        var out = ""
        out += "# HELP istio_requests_total Requests proxied by Serin's gateway.\n# TYPE istio_requests_total counter\n"
        for (labels, counters) in series {
            out += "istio_requests_total{\(labels)} \(counters.requests)\n"
        }
        histogram(
            "istio_request_duration_milliseconds", help: "Request duration as seen by Serin's gateway.",
            series.map { ($0.labels, $0.counters.duration) }, into: &out
        )
        histogram("istio_request_bytes", help: "Request body sizes.", series.map { ($0.labels, $0.counters.requestSize) }, into: &out)
        histogram("istio_response_bytes", help: "Response body sizes.", series.map { ($0.labels, $0.counters.responseSize) }, into: &out)
        return out
    }

    /// One Prometheus histogram family: cumulative `_bucket` lines with `le`, then `_sum` and `_count`.
    static func histogram(_ name: String, help: String, _ series: [(labels: String, histogram: Histogram)], into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, histogram) in series {
            var cumulative = 0
            for (index, bound) in histogram.bounds.enumerated() {
                cumulative += histogram.counts[index]
                out += "\(name)_bucket{\(labels),le=\"\(format(bound))\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(histogram.count)\n"
            out += "\(name)_sum{\(labels)} \(format(histogram.sum))\n"
            out += "\(name)_count{\(labels)} \(histogram.count)\n"
        }
    }

    /// Istio's TCP metrics for passed-through connections: the destination labels of the request series, with
    /// `request_protocol="tcp"` and no response code.
    public static func renderTCP(_ series: [TrafficKey: TCPCounters]) -> String {
        let rows = series.map { (labels: tcpLabels(for: $0.key), counters: $0.value) }.sorted { $0.labels < $1.labels }
        guard !rows.isEmpty else { return "" }
        let families: [(String, String, (TCPCounters) -> Int)] = [
            ("istio_tcp_connections_opened_total", "Connections the gateway passed through, opened.", \.connectionsOpened),
            ("istio_tcp_connections_closed_total", "Connections the gateway passed through, closed.", \.connectionsClosed),
            ("istio_tcp_sent_bytes_total", "Bytes sent to clients on passed-through connections.", \.sentBytes),
            ("istio_tcp_received_bytes_total", "Bytes received from clients on passed-through connections.", \.receivedBytes),
        ]
        var out = ""
        for (name, help, value) in families {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (labels, counters) in rows { out += "\(name){\(labels)} \(value(counters))\n" }
        }
        return out
    }

    static func tcpLabels(for key: TrafficKey) -> String {
        let dropped: Set<String> = ["response_code", "grpc_response_status", "request_kind"]
        return labelPairs(for: key).compactMap { name, value in
            guard !dropped.contains(name) else { return nil }
            return "\(name)=\"\(PrometheusText.escape(name == "request_protocol" ? "tcp" : value))\""
        }.joined(separator: ",")
    }

    static func labels(for key: TrafficKey) -> String {
        labelPairs(for: key).map { "\($0.0)=\"\(PrometheusText.escape($0.1))\"" }.joined(separator: ",")
    }

    private static func labelPairs(for key: TrafficKey) -> [(String, String)] {
        let service = key.destinationService
        let shortName = service.split(separator: ".").first.map(String.init) ?? service
        let fqdn = service.contains(".") || service == "unknown" ? service : "\(service).\(key.destinationNamespace).svc.cluster.local"
        let pairs: [(String, String)] = [
            ("reporter", "destination"),
            ("source_workload", "serin-gateway"),
            ("source_workload_namespace", key.destinationNamespace),
            ("destination_service", fqdn),
            ("destination_service_name", shortName),
            ("destination_service_namespace", key.destinationNamespace),
            ("destination_workload", key.workload ?? "unknown"),
            ("destination_workload_namespace", key.destinationNamespace),
            ("destination_version", key.version ?? "unknown"),
            ("destination_subset", key.subset ?? ""),
            ("request_protocol", key.grpcStatus == nil ? "http" : "grpc"),
            ("response_code", String(key.responseCode)),
            ("grpc_response_status", key.grpcStatus ?? ""),
            ("response_flags", key.responseFlags.rawValue),
            ("request_kind", key.kind.rawValue),
        ]
        return pairs
    }


    /// Whole numbers without a decimal point, as Prometheus prints bucket bounds.
    public static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
