/// Renders the gateway's counters in the Prometheus text format, named and labelled like Istio's
/// standard metrics so existing Istio queries and dashboards read them unchanged.
public enum PrometheusExposition {
    public static func render(_ snapshot: TelemetrySnapshot, reporter: String = "source") -> String {
        var out = ""
        let series = snapshot.series.sorted { labels(for: $0.key, reporter: reporter) < labels(for: $1.key, reporter: reporter) }
        out += "# HELP istio_requests_total Requests proxied by Serin's gateway.\n# TYPE istio_requests_total counter\n"
        for (key, counters) in series {
            out += "istio_requests_total{\(labels(for: key, reporter: reporter))} \(counters.requests)\n"
        }
        out += "# HELP istio_request_duration_milliseconds Request duration as seen by Serin's gateway.\n"
        out += "# TYPE istio_request_duration_milliseconds histogram\n"
        for (key, counters) in series {
            let base = labels(for: key, reporter: reporter)
            var cumulative = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += counters.duration.counts[index]
                out += "istio_request_duration_milliseconds_bucket{\(base),le=\"\(format(bound))\"} \(cumulative)\n"
            }
            out += "istio_request_duration_milliseconds_bucket{\(base),le=\"+Inf\"} \(counters.duration.count)\n"
            out += "istio_request_duration_milliseconds_sum{\(base)} \(format(counters.duration.sum))\n"
            out += "istio_request_duration_milliseconds_count{\(base)} \(counters.duration.count)\n"
        }
        return out
    }

    static func labels(for key: TrafficKey, reporter: String) -> String {
        let service = key.destinationService
        let fqdn = service.contains(".") || service == "unknown" ? service : "\(service).\(key.destinationNamespace).svc.cluster.local"
        let pairs: [(String, String)] = [
            ("reporter", reporter),
            ("source_workload", "serin-gateway"),
            ("destination_service", fqdn),
            ("destination_service_name", service.split(separator: ".").first.map(String.init) ?? service),
            ("destination_service_namespace", key.destinationNamespace),
            ("destination_workload", key.version.map { "\(service.split(separator: ".").first ?? "")-\($0)" } ?? "unknown"),
            ("destination_workload_namespace", key.destinationNamespace),
            ("destination_version", key.version ?? "unknown"),
            ("destination_subset", key.subset ?? ""),
            ("request_protocol", "http"),
            ("response_code", String(key.responseCode)),
            ("response_flags", key.responseFlags),
        ]
        return pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
