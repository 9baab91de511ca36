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
}
