import SerinCore

/// Measures a canary from Prometheus: the built-in checks from Istio's request counts and latency
/// histogram (canary and stable alike), custom checks from named query templates.
///
/// Outcomes map to readings so the judge's rules hold: "no values found" for counts means zero requests
/// (inconclusive, never a pass); NaN or no data for p99 means no p99; a failed query means `.unavailable`,
/// a failed check, because a rollout must not advance on data nobody could read. The latency buckets are the
/// exception: without them the counts still decide, so a failed or malformed bucket query only leaves the
/// sample's `latency` nil.
public struct PrometheusMetricProvider: MetricProvider {
    private let client: any PrometheusQuerying
    private let namespace: String
    private let templates: [String: QueryTemplate]
    private let variables: [String: String]

    /// - Parameters:
    ///   - namespace: used only when the request's Canary name has an empty namespace; otherwise the
    ///     Canary's namespace applies to destination hosts that do not name one (`web-v2-service`).
    ///   - templates: custom checks' queries by MetricTemplate name (`.custom(template:)`).
    ///   - variables: `{{ variables.NAME }}` values for those templates.
    public init(
        client: any PrometheusQuerying, namespace: String = "default", templates: [String: QueryTemplate] = [:],
        variables: [String: String] = [:]
    ) {
        self.client = client
        self.namespace = namespace
        self.templates = templates
        self.variables = variables
    }

    public func samples(for request: AnalysisRequest) async -> AnalysisSamples {
        var samples = AnalysisSamples()
        // Several queries (the built-in checks run eight) read one instant; a lone custom query needs none.
        let several = request.metrics.count > 1 || request.metrics.contains { if case .custom = $0.kind { false } else { true } }
        let at = several ? await instant() : nil
        // Success rate and duration over the same window read the same four queries per side: ask once.
        var traffic: [Duration: MetricReading] = [:]
        for check in request.metrics {
            switch check.kind {
            case .requestSuccessRate, .requestDuration:
                if let known = traffic[check.interval] {
                    samples[metric: check.name] = known
                } else {
                    let reading = await trafficReading(request, interval: check.interval, at: at)
                    traffic[check.interval] = reading
                    samples[metric: check.name] = reading
                }
            case .custom(let template):
                samples[metric: check.name] = await customReading(template, request: request, interval: check.interval, at: at)
            }
        }
        return samples
    }

    /// The instant every query of an analysis is evaluated at: Prometheus's own now, asked once. Queries that each
    /// read the server's now would see different scrapes when one lands between them: requests counted up to one
    /// scrape and their failures up to the next. Nil (each at the server's now) when Prometheus does not say.
    private func instant() async -> Double? {
        if case .value(let now) = await client.query("time()") { return now }
        return nil
    }

    private func canaryNamespace(_ request: AnalysisRequest) -> String {
        request.canaryName.namespace.isEmpty ? namespace : request.canaryName.namespace
    }

    private func trafficReading(_ request: AnalysisRequest, interval: Duration, at: Double?) async -> MetricReading {
        async let canary = sample(of: request.canary, side: "canary", request: request, interval: interval, at: at)
        async let stable = sample(of: request.stable, side: "stable", request: request, interval: interval, at: at)
        switch (await canary, await stable) {
        case (.success(let canary), .success(let stable)):
            return .traffic(canary: canary, stable: stable)
        case (.failure(let error), .success), (.success, .failure(let error)):
            return .unavailable(reason: error.message)
        case (.failure(let canaryError), .failure(let stableError)):
            return .unavailable(reason: canaryError.message == stableError.message
                ? canaryError.message : "\(canaryError.message); \(stableError.message)")
        }
    }

    /// Requests, 5xx, p99 and the latency buckets of one destination, queried together.
    private func sample(
        of destination: Destination, side: String, request: AnalysisRequest, interval: Duration, at: Double?
    ) async -> Result<MetricSample, PrometheusError> {
        let context = IstioQueries.context(
            for: destination, canary: request.canary, canaryWorkload: request.canaryWorkload, canaryNamespace: canaryNamespace(request), interval: interval
        )
        async let requests = run(IstioQueries.requests, context, at: at)
        async let errors = run(IstioQueries.serverErrors, context, at: at)
        async let p99 = run(IstioQueries.p99Milliseconds, context, at: at)
        async let buckets = run(IstioQueries.requestDurationBuckets, context, at: at)
        let (requestsResult, errorsResult, p99Result, bucketsResult) = await (requests, errors, p99, buckets)
        let label = "\(side) \(context.namespace)/\(context.service)"
        return PrometheusMetricProvider.sample(
            requests: requestsResult, serverErrors: errorsResult, p99: p99Result, buckets: bucketsResult, window: interval, label: label
        )
    }

    private func run(_ template: QueryTemplate, _ context: QueryContext, at: Double?) async -> PrometheusQueryResult {
        do {
            return await client.query(try template.render(context), at: at)
        } catch {
            return .failed(error.description)
        }
    }

    private func customReading(_ name: String, request: AnalysisRequest, interval: Duration, at: Double?) async -> MetricReading {
        guard let template = templates[name] else {
            let known = templates.keys.sorted()
            return .unavailable(reason: "no MetricTemplate named \(name)"
                + (known.isEmpty ? "" : "; known: \(known.joined(separator: ", "))"))
        }
        let context = IstioQueries.templateContext(
            for: request, canaryNamespace: canaryNamespace(request), interval: interval, variables: variables)
        let query: String
        do {
            query = try template.render(context)
        } catch {
            return .unavailable(reason: "MetricTemplate \(name): \(error)")
        }
        return PrometheusMetricProvider.reading(custom: await client.query(query, at: at), template: name, window: interval)
    }
}
