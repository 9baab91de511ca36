import Foundation
import SerinCore
import SerinManifests
import Testing

/// Flagger's TCP canary, `service.appProtocol: tcp` on a Canary of a Deployment: read, with what cannot mean anything
/// for a tcp route refused where Flagger drops it without a word.
@Suite("Flagger TCP canary decoding")
struct FlaggerTCPCanaryDecodingTests {
    /// Flagger's TCP canary judged by a MetricTemplate; the tables edit one line of it at a time, so lines stay known.
    static let canary = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata: {name: tcp-echo, namespace: test}
        spec:
          provider: istio
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: tcp-echo}
          service:
            port: 9000
            appProtocol: TCP
            match: [{port: 9000}]
          analysis:
            interval: 1m
            threshold: 5
            maxWeight: 50
            stepWeight: 10
            metrics:
            - name: connections-opened
              templateRef: {name: tcp-connections-opened}
              thresholdRange: {min: 1}
              interval: 1m
        """

    /// The middle of every refusal: why a tcp Canary sees no requests.
    static let tcpRoute = "spec.service.appProtocol is tcp, so the VirtualService Serin writes has a tcp route"

    @Test("appProtocol tcp, in any case, is read: the Canary routes between the Services Serin creates, judged by its templates, webhooks or nothing")
    func acceptsTCP() throws {
        for (original, replacement) in [
            ("", ""), ("appProtocol: TCP", "appProtocol: tcp"),
            ("    match: [{port: 9000}]\n", ""), ("    match: [{port: 9000}]", "    match: [{port: 9000}, {port: 31400}]"),
            ("    metrics:\n    - name: connections-opened\n      templateRef: {name: tcp-connections-opened}\n      thresholdRange: {min: 1}\n      interval: 1m",
             "    metrics: []\n    webhooks: [{name: smoke, url: \"http://tester/\"}]"),
            ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 5"),
        ] {
            // ("", ""): the Canary as written.
            let yaml = original.isEmpty ? Self.canary : Self.canary.replacingOccurrences(of: original, with: replacement)
            #expect(original.isEmpty || yaml != Self.canary, "\(original) is not in the Canary")
            let (spec, messages) = Fixture.decodeCanary(yaml)
            #expect(messages == [], "\(replacement)")
            let decoded = try #require(spec, "\(replacement)")
            #expect(decoded.workload?.deployment == "tcp-echo" && decoded.workload?.port == 9000)
            #expect(decoded.stable == Destination(host: "tcp-echo-primary", port: 9000) && decoded.canary == Destination(host: "tcp-echo-canary", port: 9000))
        }
    }

    @Test("on a tcp Canary, each service field that acts on requests is refused at its line, saying the tcp route has none to act on", arguments: [
        ("rewrite: {uri: /}", 14), ("retries: {attempts: 3}", 14), ("timeout: 5s", 14), ("headers: {request: {set: {x-a: b}}}", 14),
        ("corsPolicy: {allowOrigins: [{exact: \"https://a.example\"}]}", 17),
    ])
    func refusesHTTPServiceFields(field: String, column: Int) {
        let key = String(field.prefix { $0 != ":" })
        let (spec, messages) = Fixture.decodeCanary(Self.canary.replacingOccurrences(of: "    appProtocol: TCP\n", with: "    appProtocol: TCP\n    \(field)\n"))
        #expect(messages == [
            "test.yaml:10:\(column): error: spec.service.\(key) acts on HTTP requests, but \(Self.tcpRoute), whose connections carry no requests to act on",
        ])
        #expect(spec == nil)
    }

    @Test("on a tcp Canary, the analysis's A/B match, mirror, stickiness and sessionAffinity are refused at their line, as in embedded mode's tcp routes", arguments: [
        ("    iterations: 5\n    match: [{headers: {x-canary: {exact: insider}}}]", "match", "15:12"),
        ("    iterations: 5\n    mirror: true", "mirror", "15:13"),
        ("    maxWeight: 50\n    stepWeight: 10\n    stickiness: {header: x-user}", "stickiness", "16:17"),
        ("    maxWeight: 50\n    stepWeight: 10\n    sessionAffinity: {cookieName: flagger-cookie}", "sessionAffinity", "16:22"),
    ])
    func refusesRequestAnalysis(schedule: String, field: String, location: String) {
        let (spec, messages) = Fixture.decodeCanary(Self.canary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10", with: schedule))
        #expect(messages == [
            "test.yaml:\(location): error: spec.analysis.\(field) acts on HTTP requests, but \(Self.tcpRoute), whose connections carry no requests to act on",
        ])
        #expect(spec == nil)
    }

    static let instead = "use metrics with a templateRef (a query over Istio's TCP metrics istio_tcp_connections_opened_total, "
        + "istio_tcp_connections_closed_total, istio_tcp_received_bytes_total or istio_tcp_sent_bytes_total with the destination "
        + "labels) or webhooks, as Flagger does for TCP canaries"

    @Test("on a tcp Canary, a built-in HTTP metric written is refused at the metric, naming Istio's TCP metrics to query with a MetricTemplate instead")
    func refusesBuiltinMetricWritten() {
        let yaml = Self.canary.replacingOccurrences(of: "    - name: connections-opened\n", with: "    - name: request-duration\n      thresholdRange: {max: 500}\n    - name: connections-opened\n")
        let (spec, messages) = Fixture.decodeCanary(yaml)
        #expect(messages == [
            "test.yaml:17:7: error: spec.analysis.metrics[0]: request-duration is a built-in HTTP metric, but \(Self.tcpRoute), "
                + "whose connections carry no requests to count: \(Self.instead)",
        ])
        #expect(spec == nil)
    }

    @Test("a serin.dev tcp Canary that lists no metrics is told the built-in defaults are HTTP's, each, and how to check none; a flagger.app one, as in Flagger, checks none")
    func refusesBuiltinMetricsDefaulted() throws {
        let flagger = Self.canary.replacingOccurrences(
            of: "    metrics:\n    - name: connections-opened\n      templateRef: {name: tcp-connections-opened}\n      thresholdRange: {min: 1}\n      interval: 1m", with: "")
        let (flaggerSpec, flaggerMessages) = Fixture.decodeCanary(flagger)
        #expect(flaggerMessages.isEmpty, "\(flaggerMessages)")
        #expect(try #require(flaggerSpec).analysis.metrics.isEmpty)
        let yaml = flagger.replacingOccurrences(of: "apiVersion: flagger.app/v1beta1", with: "apiVersion: serin.dev/v1alpha1")
        let (spec, messages) = Fixture.decodeCanary(yaml)
        #expect(messages == ["request-success-rate", "request-duration"].map { metric in
            "test.yaml:12:5: error: spec.analysis: metrics is not written, so the analysis checks the built-in HTTP metric \(metric), but "
                + "\(Self.tcpRoute), whose connections carry no requests to count: \(Self.instead); or write metrics: [] to check none"
        })
        #expect(spec == nil)
    }

    @Test("on a tcp Canary, a service.match entry is its port alone: an entry without one, or with a request condition, is refused", arguments: [
        ("[{uri: {prefix: /api}}]", [
            "test.yaml:10:13: error: spec.service.match[0]: expected a port, the one condition of a tcp route's match (\(Self.tcpRoute)); "
                + "an entry without one would match every connection",
        ]),
        ("[{port: 9000}, {port: 9001, headers: {x-a: {exact: b}}}]", [
            "test.yaml:10:49: error: spec.service.match[1].headers: expected only port in a match entry, got headers: \(Self.tcpRoute), "
                + "which matches connections by port alone (Flagger drops the rest)",
        ]),
        ("[{port: 70000}]", ["test.yaml:10:20: error: spec.service.match[0].port: expected a port from 1 to 65535, got 70000"]),
    ])
    func refusesRequestMatch(match: String, expected: [String]) {
        let (spec, messages) = Fixture.decodeCanary(Self.canary.replacingOccurrences(of: "match: [{port: 9000}]", with: "match: \(match)"))
        #expect(messages == expected)
        #expect(spec == nil)
    }

    @Test("without appProtocol tcp the same service and analysis fields are read as before, for the http route")
    func httpCanaryKeepsItsFields() {
        let yaml = Self.canary.replacingOccurrences(of: "    appProtocol: TCP\n", with: "    appProtocol: http\n    retries: {attempts: 3}\n")
            .replacingOccurrences(of: "match: [{port: 9000}]", with: "match: [{uri: {prefix: /api}}]")
            .replacingOccurrences(of: "    - name: connections-opened\n", with: "    - name: request-duration\n      thresholdRange: {max: 500}\n    - name: connections-opened\n")
        let (spec, messages) = Fixture.decodeCanary(yaml)
        #expect(messages == [])
        #expect(spec?.analysis.metrics.first?.kind == .requestDuration)
    }
}
