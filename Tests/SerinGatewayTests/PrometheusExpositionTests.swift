import SerinCore
import Testing

@testable import SerinGateway

/// The gateway's request families as `/metrics` streams them: a piece at a time, yet a valid exposition once joined.
@Suite("Prometheus exposition")
struct PrometheusExpositionTests {
    @Test("a thousand destinations come in pieces of 64 series each; joined, each family is written once, whole and in order")
    func thousandsOfSeriesComeInPieces() {
        let telemetry = GatewayTelemetry(shardCount: 1)
        for index in 0..<1000 {
            telemetry.record(
                TrafficKey(destinationService: "service-\(index).shop.svc.cluster.local", responseCode: 200), milliseconds: 4,
                requestBytes: 0, responseBytes: 120, shard: 0)
        }
        let pieces = Array(PrometheusExposition.pieces(telemetry.snapshot(), seriesPerPiece: 64))
        // Four families of 1,000 series: 16 pieces each (15 of 64, one of 40).
        #expect(pieces.count == 4 * 16)
        let largest = pieces.map(\.utf8.count).max() ?? 0
        let whole = pieces.reduce(0) { $0 + $1.utf8.count }
        #expect(largest * 30 < whole, "the largest piece, \(largest) bytes, is no small part of \(whole)")

        let text = pieces.joined()
        var families: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            families.append(String(line.split(separator: " ")[2]))
        }
        #expect(families == ["istio_requests_total", "istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"])
        let lines = text.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("istio_requests_total{") }.count == 1000)
        #expect(lines.filter { $0.hasPrefix("istio_response_bytes_count{") }.count == 1000)
        // Each family's samples come after its own header and before the next family's.
        let firstDuration = lines.firstIndex { $0.hasPrefix("istio_request_duration_milliseconds_bucket{") } ?? 0
        let lastCounter = lines.lastIndex { $0.hasPrefix("istio_requests_total{") } ?? .max
        #expect(lastCounter < firstDuration)
        #expect(text == PrometheusExposition.render(telemetry.snapshot()))
    }

    @Test("with no traffic yet, each family still says what it is")
    func emptyFamiliesHaveHeaders() {
        let pieces = Array(PrometheusExposition.pieces(TelemetrySnapshot()))
        #expect(pieces.count == 4)
        #expect(pieces[0] == "# HELP istio_requests_total Requests proxied by Serin's gateway.\n# TYPE istio_requests_total counter\n")
    }

    @Test("a series carries Istio's standard labels, read from the endpoint's labels as Istio derives them")
    func istioStandardLabels() throws {
        func labels(_ endpointLabels: [String: String], tls: ClientTLS? = nil) -> [String: String] {
            let endpoint = Cluster.Endpoint(address: "127.0.0.1", port: 18082, labels: endpointLabels, workload: "web-v2")
            let cluster = Cluster(
                host: "web-v2-service", subset: nil, port: 80, service: ResourceName(namespace: "shop", name: "web-v2-service"),
                endpoints: [endpoint], trafficPolicy: TrafficPolicy(tls: tls)
            )
            let key = TrafficKey(cluster: cluster, endpoint: endpoint, responseCode: 200, responseFlags: .noFlag)
            var pairs: [String: String] = [:]
            for pair in PrometheusExposition.labels(for: key).split(separator: "\",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                pairs[String(parts[0])] = String(parts[1].drop(while: { $0 == "\"" }).prefix(while: { $0 != "\"" }))
            }
            return pairs
        }
        let seed = labels(["app": "web", "version": "v2"])
        #expect(seed["destination_app"] == "web")
        #expect(seed["destination_canonical_service"] == "web")
        #expect(seed["destination_canonical_revision"] == "v2")
        #expect(seed["destination_version"] == "v2")
        #expect(seed["destination_workload"] == "web-v2")
        #expect(seed["destination_service"] == "web-v2-service.shop.svc.cluster.local")
        #expect(seed["source_canonical_service"] == "serin-gateway")
        #expect(seed["connection_security_policy"] == "none")
        let istioNames = [
            "reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version",
            "source_canonical_service", "source_canonical_revision", "source_cluster", "destination_workload",
            "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
            "destination_service", "destination_service_name", "destination_service_namespace",
            "destination_canonical_service", "destination_canonical_revision", "destination_cluster", "request_protocol",
            "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
        ]
        #expect(istioNames.filter { seed[$0] == nil } == [])

        let canonical = labels([
            "app": "web", "version": "v2", "service.istio.io/canonical-name": "storefront",
            "service.istio.io/canonical-revision": "2.1",
        ])
        #expect(canonical["destination_canonical_service"] == "storefront" && canonical["destination_canonical_revision"] == "2.1")
        let bare = labels([:], tls: ClientTLS(mode: .mutual))
        #expect(bare["destination_app"] == "unknown")
        #expect(bare["destination_canonical_service"] == "web-v2")
        #expect(bare["destination_canonical_revision"] == "latest")
        #expect(bare["connection_security_policy"] == "mutual_tls")
    }
}
