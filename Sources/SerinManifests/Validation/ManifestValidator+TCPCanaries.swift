import SerinCore

/// What a Canary whose traffic is plain TCP cannot have, said alike in embedded mode (a VirtualService with only tcp
/// routes) and for Flagger's `service.appProtocol: tcp`: the built-in metrics count HTTP requests and their answers,
/// and A/B matches, mirrors, stickiness and cookies act on requests, none of which a plain TCP connection carries.
/// As Flagger asks of a TCP canary, its analysis is metric templates (over Istio's `istio_tcp_*` series) or webhooks
/// — or nothing, which promotes on the schedule.
struct TCPCanaryTraffic {
    /// Why the Canary sees no requests, as the middle of a sentence: "VirtualService default/db has only tcp routes".
    let routes: String

    private var only: String { "\(routes), whose connections carry no requests" }

    /// The error for a field at `path` that acts on HTTP requests.
    func actsOnRequests(_ path: String) -> String {
        "\(path) acts on HTTP requests, but \(only) to act on"
    }

    /// Each field of `analysis` that needs requests, by its path under the Canary (`spec.analysis.match`), with its
    /// error. `metricsWritten`: whether `analysis.metrics` is written; not written, the built-in defaults stand.
    func problems(of analysis: AnalysisSpec, metricsWritten: Bool) -> [(path: String, message: String)] {
        let instead = "use metrics with a templateRef (a query over Istio's TCP metrics istio_tcp_connections_opened_total, "
            + "istio_tcp_connections_closed_total, istio_tcp_received_bytes_total or istio_tcp_sent_bytes_total with the "
            + "destination labels) or webhooks, as Flagger does for TCP canaries"
        var problems: [(path: String, message: String)] = []
        for (index, metric) in analysis.metrics.enumerated() where metric.kind == .requestSuccessRate || metric.kind == .requestDuration {
            let path = metricsWritten ? "spec.analysis.metrics[\(index)]" : "spec.analysis"
            let why = metricsWritten
                ? "\(path): \(metric.name) is a built-in HTTP metric"
                : "\(path): metrics is not written, so the analysis checks the built-in HTTP metric \(metric.name)"
            let empty = metricsWritten ? "" : "; or write metrics: [] to check none"
            problems.append((path, "\(why), but \(only) to count: \(instead)\(empty)"))
        }
        let requestFeatures: [(field: String, used: Bool)] = [
            ("match", !analysis.match.isEmpty), ("mirror", analysis.mirror != nil),
            ("stickiness", analysis.stickiness != nil), ("sessionAffinity", analysis.sessionAffinity != nil),
        ]
        for (field, used) in requestFeatures where used {
            let path = "spec.analysis.\(field)"
            problems.append((path, actsOnRequests(path)))
        }
        return problems
    }
}

extension ManifestValidator {
    /// What a Canary on a VirtualService with only tcp routes cannot have (`TCPCanaryTraffic`), at its lines.
    static func httpOnlyAnalysis(of canary: CanarySpec, on virtualService: VirtualService, at references: CanaryReferences) -> [Diagnostic] {
        let traffic = TCPCanaryTraffic(routes: "VirtualService \(virtualService.name) has only tcp routes")
        let written = references.fieldLocations["spec.analysis.metrics"] != nil
        return traffic.problems(of: canary.analysis, metricsWritten: written).map {
            .error($0.message, at: references.location(of: $0.path))
        }
    }
}
