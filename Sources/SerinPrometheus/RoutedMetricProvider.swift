import AsyncHTTPClient
import SerinCore

/// Sends each metric check to the source that answers it: the check's own `provider`, else the
/// controller's default; a custom check to its MetricTemplate's source with the template's query, signed in
/// with the credentials of its `secretRef`.
///
/// Templates (and their Secrets) are read live, so a MetricTemplate changed with `serin apply` (or kubectl, on
/// Kubernetes) is used from the next analysis.
public struct RoutedMetricProvider: MetricProvider {
    public typealias Credentials = @Sendable (MetricTemplateSpec) async -> Result<ProviderCredentials, ProviderCredentials.Unavailable>

    private let defaultSource: MetricSource
    /// Nil where there is no embedded gateway (`serin controller`): a check asking for it is unavailable.
    private let gateway: (any MetricProvider)?
    private let templates: @Sendable () async -> [MetricTemplateSpec]
    private let credentials: Credentials
    private let workload: @Sendable (Destination) async -> String?
    private let http: HTTPClient

    /// - Parameters:
    ///   - credentials: a template's credentials, read from its `secretRef`; where Secrets cannot be read, a
    ///     template that names one is refused with the reason.
    ///   - workload: the workload serving a destination, for `{{ target }}` when the Canary names no
    ///     `canaryDeployment` (embedded mode: the Deployment the gateway's telemetry names for its endpoints).
    ///   - http: the client Prometheus queries go through.
    public init(
        defaultSource: MetricSource, gateway: (any MetricProvider)?,
        templates: @escaping @Sendable () async -> [MetricTemplateSpec],
        credentials: @escaping Credentials = { ProviderCredentials.withoutSecrets($0) },
        workload: @escaping @Sendable (Destination) async -> String? = { _ in nil },
        http: HTTPClient = PrometheusClient.sharedHTTPClient
    ) {
        self.defaultSource = defaultSource
        self.gateway = gateway
        self.templates = templates
        self.credentials = credentials
        self.workload = workload
        self.http = http
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
                switch check.kind {
                case .custom(let template):
                    guard let spec = known[template] else {
                        samples[metric: check.name] = .unavailable(reason: "no MetricTemplate named \(template)")
                        continue
                    }
                    tasks.addTask { (check.name, await self.custom(spec, check: check, request: single)) }
                case .requestSuccessRate, .requestDuration:
                    guard let provider = source(check.provider ?? defaultSource, credentials: .none, templates: [:], variables: [:]) else {
                        samples[metric: check.name] = .unavailable(reason: Self.noGateway)
                        continue
                    }
                    tasks.addTask { (check.name, await provider.samples(for: single)[metric: check.name]) }
                }
            }
            for await (name, reading) in tasks {
                samples[metric: name] = reading
            }
        }
        return samples
    }

    private static let noGateway =
        "provider gateway counts the requests of Serin's own gateway, which does not run here; use provider prometheus"

    /// A custom check, once its template's credentials are read.
    private func custom(_ spec: MetricTemplateSpec, check: MetricCheck, request: AnalysisRequest) async -> MetricReading? {
        let signIn: ProviderCredentials
        switch await credentials(spec) {
        case .success(let found): signIn = found
        case .failure(let problem): return .unavailable(reason: "MetricTemplate \(spec.name): \(problem.message)")
        }
        let name = spec.name.description
        guard let provider = source(spec.source, credentials: signIn, templates: [name: QueryTemplate(spec.query)], variables: check.templateVariables)
        else { return .unavailable(reason: Self.noGateway) }
        return await provider.samples(for: request)[metric: check.name]
    }

    /// Nil for the gateway where there is none. The credentials' `address`, when the Secret has one, replaces the source's.
    private func source(
        _ source: MetricSource, credentials: ProviderCredentials, templates: [String: QueryTemplate], variables: [String: String]
    ) -> (any MetricProvider)? {
        switch source {
        case .gateway:
            return gateway
        case .prometheus(let address):
            let client = PrometheusClient(address: credentials.address ?? address, credentials: credentials, http: http)
            return PrometheusMetricProvider(client: client, templates: templates, variables: variables)
        }
    }
}
