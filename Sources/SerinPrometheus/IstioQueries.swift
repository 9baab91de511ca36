import SerinCore

/// The built-in queries in Istio's metric vocabulary (`istio_requests_total`,
/// `istio_request_duration_milliseconds`), which Serin's gateway also exports.
///
/// Flagger's Istio provider asks for a success-rate percentage; these ask for request and 5xx counts
/// instead, so the judge still sees how many requests a rate rests on and can call a thin window
/// inconclusive. Each query selects one destination service, so canary and stable are measured apart.
public enum IstioQueries {
    /// Requests the destination served in the window: `sum(increase(...))`, a count (fractional by
    /// Prometheus' extrapolation; round it).
    public static let requests = QueryTemplate(
        #"sum(increase(istio_requests_total{reporter="destination",destination_service_namespace="{{ namespace }}",destination_service_name="{{ service }}"}[{{ interval }}]))"#
    )

    /// Of those, the ones that failed as the gateway's own success rate counts them: answered 5xx, or — gRPC calls,
    /// whose failures mostly come with HTTP 200 — ending in a `grpc_response_status` that stands for a server fault
    /// (`GRPCStatusCodes`). Each half is 0 when its series does not exist yet, so a service whose only failures are
    /// gRPC statuses is not read as error-free for want of a 5xx series.
    public static let serverErrors = QueryTemplate(
        #"(sum(increase(istio_requests_total{reporter="destination",destination_service_namespace="{{ namespace }}",destination_service_name="{{ service }}",response_code=~"5.*"}[{{ interval }}])) or vector(0))"#
            + #" + (sum(increase(istio_requests_total{reporter="destination",destination_service_namespace="{{ namespace }}",destination_service_name="{{ service }}",response_code!~"5.*",grpc_response_status=~""#
            + GRPCStatusCodes.serverFaultPattern + #""}[{{ interval }}])) or vector(0))"#
    )

    /// 99th percentile request duration in milliseconds; NaN when the window saw no requests.
    public static let p99Milliseconds = QueryTemplate(
        #"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="{{ namespace }}",destination_service_name="{{ service }}"}[{{ interval }}])) by (le))"#
    )

    /// The window's request durations per bucket, one series per `le` bound (cumulative, `+Inf` last, fractional
    /// by increase()'s extrapolation), for judges that compare canary and stable distributions.
    public static let requestDurationBuckets = QueryTemplate(
        #"sum by (le) (increase(istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="{{ namespace }}",destination_service_name="{{ service }}"}[{{ interval }}]))"#
    )

    /// Flagger's own Istio `request-success-rate` query (percent of non-5xx requests to the `target`
    /// workload), for users who want Flagger's exact number in a MetricTemplate. It returns NaN on no traffic
    /// and carries no request count, so the minimum-request rule cannot apply to it.
    public static let flaggerRequestSuccessRate = QueryTemplate("""
        sum(
          rate(
            istio_requests_total{
              reporter="destination",
              destination_workload_namespace="{{ namespace }}",
              destination_workload=~"{{ target }}",
              response_code!~"5.*"
            }[{{ interval }}]
          )
        )
        /
        sum(
          rate(
            istio_requests_total{
              reporter="destination",
              destination_workload_namespace="{{ namespace }}",
              destination_workload=~"{{ target }}"
            }[{{ interval }}]
          )
        )
        * 100
        """)

    /// Flagger's own Istio `request-duration` query: p99 in milliseconds for the `target` workload.
    public static let flaggerRequestDuration = QueryTemplate("""
        histogram_quantile(
          0.99,
          sum(
            rate(
              istio_request_duration_milliseconds_bucket{
                reporter="destination",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}"
              }[{{ interval }}]
            )
          ) by (le)
        )
        """)

    /// The service name Istio reports for a destination host: its first DNS label
    /// (`web-v2-service.default.svc.cluster.local` → `web-v2-service`).
    public static func serviceName(ofHost host: String) -> String {
        host.split(separator: ".", maxSplits: 1).first.map(String.init) ?? host
    }

    /// The namespace of a Kubernetes service host `name.namespace.svc[.cluster.local]`, else `fallback`
    /// (the Canary's namespace). A two-label host such as `web.prod` is not read as `service.namespace`:
    /// Istio takes only dotless names relative to a namespace and everything else as a full host name.
    public static func namespace(ofHost host: String, fallback: String) -> String {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 3, labels[2] == "svc", !labels[1].isEmpty else { return fallback }
        return String(labels[1])
    }

    /// The context the built-in queries render with for one destination: its service and namespace, with
    /// the canary's workload as `target`, as Flagger renders it (`destination_workload` is the Deployment's
    /// name); the canary's service name when its workload is not known.
    public static func context(
        for destination: Destination, canary: Destination, canaryWorkload: String? = nil, canaryNamespace: String,
        interval: Duration, variables: [String: String] = [:]
    ) -> QueryContext {
        QueryContext(
            namespace: namespace(ofHost: destination.host, fallback: canaryNamespace),
            target: canaryWorkload ?? serviceName(ofHost: canary.host),
            service: serviceName(ofHost: destination.host),
            interval: interval,
            variables: variables
        )
    }

    /// The context a MetricTemplate renders with, as Flagger's `toMetricModel` fills it: `{{ name }}` is the Canary's
    /// name, `{{ service }}` the Service clients call (`service.name`, else the target's name) where the Canary has
    /// Flagger's shape, not the `-canary` Service measured; a service pair's is its canary's service.
    public static func templateContext(
        for request: AnalysisRequest, canaryNamespace: String, interval: Duration, variables: [String: String]
    ) -> QueryContext {
        var context = context(
            for: request.canary, canary: request.canary, canaryWorkload: request.canaryWorkload, canaryNamespace: canaryNamespace,
            interval: interval, variables: variables)
        context.name = request.canaryName.name
        if let apex = request.apexService { context.service = apex }
        return context
    }
}
