import SerinCore
import SerinManifests
import Testing

/// `analysis.load` as users write it, and the limits that keep it from reaching anything but the Canary's own
/// destinations or running faster than Serin's cap.
@Suite("analysis.load decoding")
struct SyntheticLoadDecodingTests {
    @Test("reads rps, path, headers and duration")
    func full() {
        let (spec, messages) = Fixture.canary(analysis: """
                load:
                  rps: 2.5
                  path: /healthz?deep=1
                  headers: {x-load-test: serin}
                  duration: 10s

            """)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.load == SyntheticLoad(rps: 2.5, path: "/healthz?deep=1", headers: ["x-load-test": "serin"], duration: .seconds(10)))
    }

    @Test("only rps is required: the path is /, no headers, the whole interval")
    func defaults() {
        let (spec, messages) = Fixture.canary(analysis: "    load: {rps: 1}\n")
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.load == SyntheticLoad(rps: 1))
    }

    @Test(
        "refuses what would make the load a weapon or reach another host, saying where and what is expected",
        arguments: [
            ("    load: {rps: 500}\n",
             "test.yaml:10:17: error: spec.analysis.load.rps is 500, expected requests a second above 0 and at most 100 (Serin's cap on synthetic traffic, per destination)"),
            ("    load: {rps: 0}\n",
             "test.yaml:10:17: error: spec.analysis.load.rps is 0, expected requests a second above 0 and at most 100 (Serin's cap on synthetic traffic, per destination)"),
            ("    load: {rps: 1, path: \"http://example.com/\"}\n",
             "test.yaml:10:26: error: spec.analysis.load.path is \"http://example.com/\", expected a path on the Canary's own service (starting with /, no spaces)"),
            ("    load: {rps: 1, headers: {Host: example.com}}\n",
             "test.yaml:10:29: error: spec.analysis.load.headers.Host: expected a header name other than Host and the ones that frame or carry the request (content-length, transfer-encoding, connection, keep-alive, te, trailer, upgrade): the load's GETs set them"),
            // A framing header would make each GET malformed: a server that believes it waits for a body never sent.
            ("    load: {rps: 1, headers: {transfer-encoding: chunked}}\n",
             "test.yaml:10:29: error: spec.analysis.load.headers.transfer-encoding: expected a header name other than Host and the ones that frame or carry the request (content-length, transfer-encoding, connection, keep-alive, te, trailer, upgrade): the load's GETs set them"),
            ("    load: {rps: 1, duration: 2m}\n",
             "test.yaml:10:30: error: spec.analysis.load.duration is 2m, expected above 0s and at most the analysis interval (30s): the load runs that long in each interval"),
            ("    load: {path: /}\n",
             "test.yaml:10:11: error: spec.analysis.load.rps is required"),
        ]
    )
    func refused(line: String, message: String) {
        let (spec, messages) = Fixture.canary(analysis: line)
        #expect(spec == nil)
        #expect(messages == [message])
    }
}
