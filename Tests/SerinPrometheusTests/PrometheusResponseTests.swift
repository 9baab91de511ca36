import SerinPrometheus
import Testing

@Suite("PrometheusResponse")
struct PrometheusResponseTests {
    @Test("reads one-element vectors and scalars as values", arguments: [
        (RecordedResponses.vectorOne, 1.0),
        (RecordedResponses.vectorQuarter, 0.25),
        (RecordedResponses.vectorInfinity, Double.infinity),
        (RecordedResponses.scalarPlusInfinity, Double.infinity),
        (RecordedResponses.scalarMinusInfinity, -Double.infinity),
    ])
    func values(body: String, expected: Double) {
        #expect(PrometheusResponse.parse(body) == .value(expected))
    }

    @Test("reads an empty vector as no data", arguments: [RecordedResponses.emptyVector, RecordedResponses.emptySum])
    func noData(body: String) {
        #expect(PrometheusResponse.parse(body) == .noData)
    }

    @Test("reads NaN apart from values", arguments: [RecordedResponses.vectorNaN, RecordedResponses.scalarNaN])
    func notANumber(body: String) {
        #expect(PrometheusResponse.parse(body) == .notANumber)
    }

    @Test("keeps every series' labels and value when a vector has more than one")
    func multipleSeries() {
        #expect(PrometheusResponse.parse(RecordedResponses.twoSeries) == .multipleSeries([
            PrometheusSeries(labels: [:], value: 1), PrometheusSeries(labels: ["pod": "b"], value: 2),
        ]))
    }

    @Test("reads a histogram's buckets as one series per le bound, +Inf included")
    func histogramBuckets() {
        #expect(PrometheusResponse.parse(RecordedResponses.durationBuckets) == .multipleSeries([
            PrometheusSeries(labels: ["le": "25"], value: 10.2), PrometheusSeries(labels: ["le": "50"], value: 1150.7),
            PrometheusSeries(labels: ["le": "+Inf"], value: 1204.4),
        ]))
    }

    @Test("fails with the error type and message of an error body", arguments: [
        (RecordedResponses.parseError, "bad_data: invalid parameter \"query\": 1:5: parse error: unexpected end of input inside braces"),
        (RecordedResponses.executionError, "execution: invalid regular expression in label_replace(): ("),
    ])
    func errors(body: String, expected: String) {
        #expect(PrometheusResponse.parse(body) == .failed(expected))
        #expect(PrometheusResponse.errorDescription(Array(body.utf8)) == expected)
    }

    @Test("fails on result types other than instant vector or scalar", arguments: [
        (RecordedResponses.matrix, "range vector (matrix)"),
        (RecordedResponses.string, "query returned a string, expected an instant vector or scalar"),
    ])
    func otherResultTypes(body: String, expected: String) {
        let result = PrometheusResponse.parse(body)
        guard case .failed(let reason) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(reason.contains(expected))
    }

    @Test("fails on bodies that are not Prometheus API JSON", arguments: [
        "<html>502 Bad Gateway</html>",
        "",
        #"{"status":"success"}"#,
        #"{"data":{}}"#,
        #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1, "many"]}]}}"#,
        #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}"#,
        #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"1"},"value":[1,"2"]},{"metric":{"le":"+Inf"},"value":[1,"many"]}]}}"#,
    ])
    func malformed(body: String) {
        let result = PrometheusResponse.parse(body)
        guard case .failed = result else {
            Issue.record("expected a failure for \(body), got \(result)")
            return
        }
    }

    @Test("describes non-JSON error bodies by their text")
    func errorDescriptionOfText() {
        #expect(PrometheusResponse.errorDescription(Array("  upstream connect error\n".utf8)) == "upstream connect error")
        #expect(PrometheusResponse.errorDescription([]) == "empty body")
    }
}
