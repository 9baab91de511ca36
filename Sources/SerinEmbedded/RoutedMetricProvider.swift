import NIOCore
import SerinController
import SerinCore
import SerinPrometheus

/// Sends each metric check to the source that answers it: the check's own `provider`, else the
/// controller's default; a custom check to its MetricTemplate's source with the template's query.
///
/// Templates are read live, so a MetricTemplate changed with `serin apply` is used from the next analysis.
public struct RoutedMetricProvider: MetricProvider {
    private let defaultSource: MetricSource
    private let gateway: GatewayMetricProvider
    private let templates: @Sendable () async -> [MetricTemplateSpec]
    private let group: any EventLoopGroup

    public init(
        defaultSource: MetricSource, gateway: GatewayMetricProvider, group: any EventLoopGroup,
        templates: @escaping @Sendable () async -> [MetricTemplateSpec]
    ) {
        self.defaultSource = defaultSource
        self.gateway = gateway
        self.group = group
        self.templates = templates
    }

    public func samples(for request: AnalysisRequest) async -> AnalysisSamples {
        let known = Dictionary(await templates().map { ($0.name.description, $0) }, uniquingKeysWith: { first, _ in first })
        var samples = AnalysisSamples()
        // One sub-request per check keeps each check's source and template variables its own.
        await withTaskGroup(of: (String, MetricReading?).self) { tasks in
            for check in request.metrics {
                var single = request
                single.metrics = [check]
                let provider: any MetricProvider
                switch check.kind {
                case .custom(let template):
                    guard let spec = known[template] else {
                        samples[metric: check.name] = .unavailable(reason: "no MetricTemplate named \(template)")
                        continue
                    }
                    provider = source(spec.source, templates: [template: QueryTemplate(spec.query)], variables: check.templateVariables)
                case .requestSuccessRate, .requestDuration:
                    provider = source(check.provider ?? defaultSource, templates: [:], variables: [:])
                }
                tasks.addTask { (check.name, await provider.samples(for: single)[metric: check.name]) }
            }
            for await (name, reading) in tasks {
                samples[metric: name] = reading
            }
        }
        return samples
    }

    private func source(_ source: MetricSource, templates: [String: QueryTemplate], variables: [String: String]) -> any MetricProvider {
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
