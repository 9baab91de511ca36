import NIOCore
import SerinCore

/// Sends each metric check to the source that answers it: the check's own `provider`, else the
/// controller's default; a custom check to its MetricTemplate's source with the template's query.
///
/// Templates are read live, so a MetricTemplate changed with `serin apply` (or kubectl, on Kubernetes) is used
/// from the next analysis.
public struct RoutedMetricProvider: MetricProvider {
    private let defaultSource: MetricSource
    /// Nil where there is no embedded gateway (`serin controller`): a check asking for it is unavailable.
    private let gateway: (any MetricProvider)?
    private let templates: @Sendable () async -> [MetricTemplateSpec]
    private let workload: @Sendable (Destination) async -> String?
    private let group: any EventLoopGroup

    /// - Parameter workload: the workload serving a destination, for `{{ target }}` when the Canary names no
    ///   `canaryDeployment` (embedded mode: the Deployment the gateway's telemetry names for its endpoints).
    public init(
        defaultSource: MetricSource, gateway: (any MetricProvider)?, group: any EventLoopGroup,
        templates: @escaping @Sendable () async -> [MetricTemplateSpec],
        workload: @escaping @Sendable (Destination) async -> String? = { _ in nil }
    ) {
        self.defaultSource = defaultSource
        self.gateway = gateway
        self.group = group
        self.templates = templates
        self.workload = workload
    }

    public func samples(for request: AnalysisRequest) async -> AnalysisSamples {
        var request = request
        if request.canaryWorkload == nil { request.canaryWorkload = await workload(request.canary) }
        let known = Dictionary(await templates().map { ($0.name.description, $0) }, uniquingKeysWith: { first, _ in first })
        var samples = AnalysisSamples()
        // One sub-request per check keeps each check's source and template variables its own.
        await withTaskGroup(of: (String, MetricReading?).self) { tasks in
            for check in request.metrics {
                var single = request
                single.metrics = [check]
                let chosen: (any MetricProvider)?
                switch check.kind {
                case .custom(let template):
                    guard let spec = known[template] else {
                        samples[metric: check.name] = .unavailable(reason: "no MetricTemplate named \(template)")
                        continue
                    }
                    chosen = source(spec.source, templates: [template: QueryTemplate(spec.query)], variables: check.templateVariables)
                case .requestSuccessRate, .requestDuration:
                    chosen = source(check.provider ?? defaultSource, templates: [:], variables: [:])
                }
                guard let provider = chosen else {
                    samples[metric: check.name] = .unavailable(
                        reason: "provider gateway counts the requests of Serin's own gateway, which does not run here; use provider prometheus"
                    )
                    continue
                }
                tasks.addTask { (check.name, await provider.samples(for: single)[metric: check.name]) }
            }
            for await (name, reading) in tasks {
                samples[metric: name] = reading
            }
        }
        return samples
    }

    /// Nil for the gateway where there is none.
    private func source(_ source: MetricSource, templates: [String: QueryTemplate], variables: [String: String]) -> (any MetricProvider)? {
        switch source {
        case .gateway:
            return gateway
        case .prometheus(let address):
            return PrometheusMetricProvider(
                client: PrometheusClient(address: address, group: group), templates: templates, variables: variables
            )
        }
    }
}
