/// Renders the gateway's counters in the Prometheus text format, named and labelled like Istio's
/// standard metrics so existing Istio queries and dashboards read them unchanged.
///
/// The series carry `reporter="destination"`: the embedded gateway is the only proxy in front of each
/// workload, so it reports what a destination sidecar would — the series Istio-era queries (Flagger's
/// built-ins among them) filter on. Copies a route's `mirror` sends are their own series, `request_kind="mirror"`,
/// and so is Serin's synthetic load, `request_kind="synthetic"` (live requests are `request_kind="live"`), so
/// neither passes for answers clients got.
public enum PrometheusExposition {
    /// The whole exposition at once, for tests and small configurations; `/metrics` streams `pieces`.
    public static func render(_ snapshot: TelemetrySnapshot) -> String {
        pieces(snapshot).joined()
    }

    /// The exposition in pieces of at most `seriesPerPiece` series of one family, sorted by labels: `/metrics`
    /// writes each as it is made, so thousands of series (about 23 KB of text each, with Istio's labels and
    /// buckets) never sit whole in memory.
    public static func pieces(_ snapshot: TelemetrySnapshot, seriesPerPiece: Int = 64) -> Pieces {
        let series = snapshot.series.map { (labels: labels(for: $0.key), counters: $0.value) }.sorted { $0.labels < $1.labels }
        return Pieces(series: series, seriesPerPiece: max(1, seriesPerPiece))
    }

    /// The families one after the other, each as its header then its series a piece at a time.
    public struct Pieces: Sequence, IteratorProtocol {
        let series: [(labels: String, counters: TrafficCounters)]
        let seriesPerPiece: Int
        private var familyIndex = 0
        private var position = 0

        init(series: [(labels: String, counters: TrafficCounters)], seriesPerPiece: Int) {
            self.series = series
            self.seriesPerPiece = seriesPerPiece
        }

        /// Istio's four request families, in the order they are written.
        private enum Family: Int {
            case requests, duration, requestSize, responseSize

            var name: String {
                switch self {
                case .requests: "istio_requests_total"
                case .duration: "istio_request_duration_milliseconds"
                case .requestSize: "istio_request_bytes"
                case .responseSize: "istio_response_bytes"
                }
            }

            var help: String {
                switch self {
                case .requests: "Requests proxied by Serin's gateway."
                case .duration: "Request duration as seen by Serin's gateway."
                case .requestSize: "Request body sizes."
                case .responseSize: "Response body sizes."
                }
            }

            /// Nil for the counter.
            func histogram(of counters: TrafficCounters) -> Histogram? {
                switch self {
                case .requests: nil
                case .duration: counters.duration
                case .requestSize: counters.requestSize
                case .responseSize: counters.responseSize
                }
            }
        }

        public mutating func next() -> String? {
            guard let family = Family(rawValue: familyIndex) else { return nil }
            var out = ""
            if position == 0 {
                out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family == .requests ? "counter" : "histogram")\n"
            }
            let end = Swift.min(position + seriesPerPiece, series.count)
            for (labels, counters) in series[position..<end] {
                if let histogram = family.histogram(of: counters) {
                    PrometheusExposition.write(family.name, labels: labels, histogram, into: &out)
                } else {
                    out += "\(family.name){\(labels)} \(counters.requests)\n"
                }
            }
            position = end
            if position == series.count {
                familyIndex += 1
                position = 0
            }
            return out
        }
    }

    /// One series of a histogram family: cumulative `_bucket` lines with `le`, then `_sum` and `_count`.
    static func write(_ name: String, labels: String, _ histogram: Histogram, into out: inout String) {
        var cumulative = 0
        for (index, bound) in histogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            out += "\(name)_bucket{\(labels),le=\"\(format(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(histogram.count)\n"
        out += "\(name)_sum{\(labels)} \(format(histogram.sum))\n"
        out += "\(name)_count{\(labels)} \(histogram.count)\n"
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

    /// Istio's standard labels, in Istio's order, then Serin's `destination_subset` and `request_kind`. The gateway
    /// is the source of every request it proxies (`serin-gateway`); what no manifest says is `unknown`, as Istio
    /// writes it, and a canonical revision no label gives is `latest`.
    private static func labelPairs(for key: TrafficKey) -> [(String, String)] {
        let service = key.destinationService
        let shortName = service.split(separator: ".").first.map(String.init) ?? service
        let fqdn = service.contains(".") || service == "unknown" ? service : "\(service).\(key.destinationNamespace).svc.cluster.local"
        let pairs: [(String, String)] = [
            ("reporter", "destination"),
            ("source_workload", gatewayWorkload),
            ("source_workload_namespace", key.destinationNamespace),
            ("source_principal", "unknown"),
            ("source_app", gatewayWorkload),
            ("source_version", "unknown"),
            ("source_canonical_service", gatewayWorkload),
            ("source_canonical_revision", "latest"),
            ("source_cluster", clusterName),
            ("destination_workload", key.workload ?? "unknown"),
            ("destination_workload_namespace", key.destinationNamespace),
            ("destination_principal", "unknown"),
            ("destination_app", key.app ?? "unknown"),
            ("destination_version", key.version ?? "unknown"),
            ("destination_service", fqdn),
            ("destination_service_name", shortName),
            ("destination_service_namespace", key.destinationNamespace),
            ("destination_canonical_service", key.canonicalService ?? key.workload ?? "unknown"),
            ("destination_canonical_revision", key.canonicalRevision ?? "latest"),
            ("destination_cluster", clusterName),
            ("destination_subset", key.subset ?? ""),
            ("request_protocol", key.grpcStatus == nil ? "http" : "grpc"),
            ("response_code", String(key.responseCode)),
            ("grpc_response_status", key.grpcStatus ?? ""),
            ("response_flags", key.responseFlags.rawValue),
            ("connection_security_policy", key.mutualTLS ? "mutual_tls" : "none"),
            ("request_kind", key.kind.rawValue),
        ]
        return pairs
    }

    /// The workload every series names as its source: the gateway itself.
    static let gatewayWorkload = "serin-gateway"
    /// Istio's name for a mesh of one cluster, which its `*_cluster` labels carry by default.
    static let clusterName = "Kubernetes"

    /// Whole numbers without a decimal point, as Prometheus prints bucket bounds.
    public static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
