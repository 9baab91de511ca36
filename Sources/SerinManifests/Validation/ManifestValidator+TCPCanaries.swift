import SerinCore

extension ManifestValidator {
    /// What a Canary on a VirtualService with only tcp routes cannot have: the built-in metrics count HTTP requests and
    /// their answers, and A/B matches, mirrors, stickiness and cookies act on requests, none of which a plain TCP
    /// connection carries. As Flagger asks of a TCP canary, its analysis is metric templates (over Istio's
    /// `istio_tcp_*` series) or webhooks — or nothing, which promotes on the schedule.
    static func httpOnlyAnalysis(of canary: CanarySpec, on virtualService: VirtualService, at references: CanaryReferences) -> [Diagnostic] {
        let only = "VirtualService \(virtualService.name) has only tcp routes, whose connections carry no requests"
        let instead = "use metrics with a templateRef (a query over istio_tcp_connections_opened_total or "
            + "istio_tcp_sent_bytes_total with the destination labels) or webhooks, as Flagger does for TCP canaries"
        var diagnostics: [Diagnostic] = []
        let written = references.fieldLocations["spec.analysis.metrics"] != nil
        for (index, metric) in canary.analysis.metrics.enumerated() where metric.kind == .requestSuccessRate || metric.kind == .requestDuration {
            let path = written ? "spec.analysis.metrics[\(index)]" : "spec.analysis"
            let why = written
                ? "\(path): \(metric.name) is a built-in HTTP metric"
                : "\(path): metrics is not written, so the analysis checks the built-in HTTP metric \(metric.name)"
            let empty = written ? "" : "; or write metrics: [] to check none"
            diagnostics.append(.error("\(why), but \(only) to count: \(instead)\(empty)", at: references.location(of: path)))
        }
        let requestFeatures: [(field: String, used: Bool)] = [
            ("match", !canary.analysis.match.isEmpty), ("mirror", canary.analysis.mirror != nil),
            ("stickiness", canary.analysis.stickiness != nil), ("sessionAffinity", canary.analysis.sessionAffinity != nil),
        ]
        for (field, used) in requestFeatures where used {
            let path = "spec.analysis.\(field)"
            diagnostics.append(.error("\(path) acts on HTTP requests, but \(only) to act on", at: references.location(of: path)))
        }
        return diagnostics
    }
}
