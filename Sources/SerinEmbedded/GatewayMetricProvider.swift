import SerinController
import SerinCore
import SerinGateway

/// The built-in metrics from the gateway's own counters: success rate, p99 and the latency histogram (Istio's
/// buckets) of the canary, and of the stable side as a baseline, each over its check's window. Each side is judged
/// on its live requests and Serin's synthetic load (`analysis.load`) together; while a blue/green Canary mirrors,
/// the canary is judged on the copies mirrored to it (and its synthetic load) instead, counted apart from live
/// requests.
public struct GatewayMetricProvider: MetricProvider {
    private let history: TelemetryHistory

    public init(history: TelemetryHistory) {
        self.history = history
    }

    public func samples(for request: AnalysisRequest) async -> AnalysisSamples {
        var samples = AnalysisSamples()
        for check in request.metrics {
            switch check.kind {
            case .requestSuccessRate, .requestDuration:
                let (counts, covered) = history.window(check.interval)
                // A window whose history reaches (nearly) back to its start reports the interval asked for; one
                // shorter (the gateway started since) reports the span it covered.
                let window = covered * 10 >= check.interval * 9 ? check.interval : covered
                samples[metric: check.name] = .traffic(
                    canary: Self.sample(counts, request.canary, mirrored: request.canaryMirrored, window: window),
                    stable: Self.sample(counts, request.stable, window: window)
                )
            case .custom:
                // Custom queries need a metrics backend; the gateway has no values for them.
                samples[metric: check.name] = .value(nil, window: check.interval)
            }
        }
        return samples
    }

    /// One side's numbers: its live requests, or (a mirroring blue/green's canary) the copies mirrored to it, with
    /// the synthetic load sent to it.
    static func sample(_ counts: TrafficWindow, _ destination: Destination, mirrored: Bool = false, window: Duration) -> MetricSample {
        let kinds: Set<RequestKind> = [mirrored ? .mirror : .live, .synthetic]
        let traffic = counts.traffic(toHost: destination.host, subset: destination.subset, kinds: kinds)
        // No histogram without requests, as there is no p99 and as Prometheus' buckets give none.
        let latency = traffic.duration.count > 0
            ? LatencyHistogram(bounds: traffic.duration.bounds, counts: traffic.duration.counts) : nil
        return MetricSample(
            requests: traffic.requests, failures: traffic.serverErrors,
            p99Milliseconds: traffic.duration.quantile(0.99), latency: latency, window: window
        )
    }
}
