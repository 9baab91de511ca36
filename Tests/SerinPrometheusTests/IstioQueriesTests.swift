import SerinCore
import SerinPrometheus
import Testing

@Suite("IstioQueries")
struct IstioQueriesTests {
    let canary = Destination(host: "web-v2-service.shop.svc.cluster.local")
    let stable = Destination(host: "web-v1-service")

    @Test("takes the service name from the host's first DNS label", arguments: [
        ("web-v2-service.default.svc.cluster.local", "web-v2-service"),
        ("web-v2-service", "web-v2-service"),
        ("web.prod", "web"),
    ])
    func serviceName(host: String, expected: String) {
        #expect(IstioQueries.serviceName(ofHost: host) == expected)
    }

    @Test("takes the namespace from a Kubernetes service host, else the Canary's", arguments: [
        ("web-v2-service.default.svc.cluster.local", "default"),
        ("web-v2-service.prod.svc", "prod"),
        ("web-v2-service", "shop"),
        ("web.prod", "shop"),
        ("api.example.com", "shop"),
    ])
    func namespace(host: String, expected: String) {
        #expect(IstioQueries.namespace(ofHost: host, fallback: "shop") == expected)
    }

    @Test("renders the canary's request, failure (5xx or a server-fault gRPC status), p99 and latency bucket queries")
    func canaryQueries() throws {
        let context = IstioQueries.context(for: canary, canary: canary, canaryNamespace: "default", interval: .seconds(60))
        let selector = #"reporter="destination",destination_service_namespace="shop",destination_service_name="web-v2-service""#
        #expect(try IstioQueries.requests.render(context) == "sum(increase(istio_requests_total{\(selector)}[1m]))")
        #expect(try IstioQueries.serverErrors.render(context)
            == "(sum(increase(istio_requests_total{\(selector),response_code=~\"5.*\"}[1m])) or vector(0))"
            + " + (sum(increase(istio_requests_total{\(selector),response_code!~\"5.*\",grpc_response_status=~\"2|4|12|13|14|15\"}[1m]))"
            + " or vector(0))")
        #expect(try IstioQueries.p99Milliseconds.render(context)
            == "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{\(selector)}[1m])) by (le))")
        #expect(try IstioQueries.requestDurationBuckets.render(context)
            == "sum by (le) (increase(istio_request_duration_milliseconds_bucket{\(selector)}[1m]))")
    }

    @Test("renders the stable side in the Canary's namespace with the canary as target")
    func stableContext() throws {
        let context = IstioQueries.context(for: stable, canary: canary, canaryNamespace: "default", interval: .seconds(30))
        #expect(context == QueryContext(namespace: "default", target: "web-v2-service", service: "web-v1-service", interval: .seconds(30)))
        #expect(try IstioQueries.requests.render(context).contains(#"destination_service_name="web-v1-service"}[30s]"#))
    }

    @Test("renders Flagger's original success-rate and duration queries for the canary")
    func flaggerQueries() throws {
        let context = IstioQueries.context(for: canary, canary: canary, canaryNamespace: "default", interval: .seconds(60))
        let successRate = try IstioQueries.flaggerRequestSuccessRate.render(context)
        let duration = try IstioQueries.flaggerRequestDuration.render(context)
        for query in [successRate, duration] {
            #expect(query.contains(#"destination_workload_namespace="shop""#))
            #expect(query.contains(#"destination_workload=~"web-v2-service""#))
            #expect(query.contains("}[1m]"))
            #expect(!query.contains("{{"))
        }
        #expect(successRate.contains(#"response_code!~"5.*""#))
        #expect(successRate.hasSuffix("* 100"))
        #expect(duration.hasPrefix("histogram_quantile(\n  0.99,"))
    }
}
