import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("MetricTemplate decoding")
struct MetricTemplateDecodingTests {
    /// Flagger's documented example, verbatim: a Flagger user's file must decode as it is.
    private static let flagger = """
        apiVersion: flagger.app/v1beta1
        kind: MetricTemplate
        metadata:
          name: not-found-percentage
          namespace: default
        spec:
          provider:
            type: prometheus
            address: http://127.0.0.1:9090
          query: |
            100 - sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}",response_code!="404"}[{{ interval }}])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"}[{{ interval }}])) * 100
        """

    private static let flaggerQuery = #"""
        100 - sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}",response_code!="404"}[{{ interval }}])) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload="{{ target }}"}[{{ interval }}])) * 100
        """#

    /// A small valid template; the error tables edit one line of it at a time, so lines and columns stay known.
    private static let minimal = """
        apiVersion: serin.dev/v1alpha1
        kind: MetricTemplate
        metadata: {name: errors}
        spec:
          provider:
            type: prometheus
            address: http://127.0.0.1:9090
          query: sum(rate(errors{namespace="{{ namespace }}",app="{{variables.app}}"}[{{ interval }}]))
        """

    private static let minimalQuery = #"sum(rate(errors{namespace="{{ namespace }}",app="{{variables.app}}"}[{{ interval }}]))"#

    private func decodeTemplate(_ yaml: String) -> (spec: MetricTemplateSpec?, messages: [String]) {
        let (resources, diagnostics) = Fixture.decode(yaml)
        return (resources.metricTemplates.first, Fixture.messages(diagnostics))
    }

    @Test("decodes Flagger's MetricTemplate unchanged, under Flagger's and Serin's API versions alike")
    func bothAPIVersions() throws {
        let expected = MetricTemplateSpec(
            name: ResourceName(name: "not-found-percentage"), source: .prometheus(address: "http://127.0.0.1:9090"),
            query: Self.flaggerQuery
        )
        for apiVersion in ["flagger.app/v1beta1", "serin.dev/v1alpha1"] {
            let yaml = Self.flagger.replacingOccurrences(of: "flagger.app/v1beta1", with: apiVersion)
            let (resources, diagnostics) = Fixture.decode(yaml)
            #expect(diagnostics.isEmpty, "\(Fixture.messages(diagnostics))")
            let located = try #require(resources.first)
            #expect(located.resource == .metricTemplate(expected))
            #expect(located.kind == .metricTemplate)
            #expect(located.apiVersion == apiVersion)
            #expect(located.label == "MetricTemplate default/not-found-percentage")
        }
    }

    @Test("decodes a template with a variable, and finds it in the resource list")
    func minimalTemplate() {
        let set = Fixture.set(Self.minimal)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        let expected = MetricTemplateSpec(
            name: ResourceName(name: "errors"), source: .prometheus(address: "http://127.0.0.1:9090"), query: Self.minimalQuery
        )
        #expect(set.metricTemplates == [expected])
        #expect(set.resources.metricTemplates == [expected])
        #expect(set.canaries.isEmpty)
    }

    @Test(
        "reports each malformed field at its location with expected and got, and produces no resource",
        arguments: [
            (
                "type: prometheus", "type: datadog",
                "test.yaml:6:11: error: spec.provider.type: provider datadog is not supported by Serin; expected prometheus"
            ),
            (
                "type: prometheus", "type: newrelic",
                "test.yaml:6:11: error: spec.provider.type: provider newrelic is not supported by Serin; expected prometheus"
            ),
            (
                "    address: http://127.0.0.1:9090\n", "",
                "test.yaml:6:5: error: spec.provider.address is required for provider prometheus, e.g. http://127.0.0.1:9090"
            ),
            (
                "address: http://127.0.0.1:9090", "address: ftp://prometheus:9090",
                "test.yaml:7:14: error: spec.provider.address: expected an http:// or https:// URL like http://127.0.0.1:9090, "
                    + "got \"ftp://prometheus:9090\""
            ),
            (
                "address: http://127.0.0.1:9090", "address: 127.0.0.1:9090",
                "test.yaml:7:14: error: spec.provider.address: expected an http:// or https:// URL like http://127.0.0.1:9090, "
                    + "got \"127.0.0.1:9090\""
            ),
            (
                "address: http://127.0.0.1:9090", "address: \"http://\"",
                "test.yaml:7:14: error: spec.provider.address: expected an http:// or https:// URL like http://127.0.0.1:9090, got \"http://\""
            ),
            (
                "address: http://127.0.0.1:9090", "address: http://127.0.0.1:9090\n    secretRef: {}",
                "test.yaml:8:16: error: spec.provider.secretRef.name is required"
            ),
            (
                "address: http://127.0.0.1:9090", "address: http://127.0.0.1:9090\n    secretRef: {name: \"\"}",
                "test.yaml:8:23: error: spec.provider.secretRef.name is empty, expected the name of a Secret in the template's namespace"
            ),
            (
                "    type: prometheus\n", "",
                "test.yaml:6:5: error: spec.provider.type is required"
            ),
            (
                "type: prometheus", "type: 5",
                "test.yaml:6:11: error: spec.provider.type: expected a string, got integer 5"
            ),
            (
                "query: sum", "query: \"\"\n  unused: sum",
                "test.yaml:8:10: error: spec.query is empty, expected a PromQL query"
            ),
            (
                "query: sum", "query: \"  \"\n  unused: sum",
                "test.yaml:8:10: error: spec.query is empty, expected a PromQL query"
            ),
            (
                "  query: sum", "  unused: sum",
                "test.yaml:5:3: error: spec.query is required"
            ),
        ]
    )
    func malformed(original: String, replacement: String, message: String) {
        let yaml = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != Self.minimal)
        let (spec, messages) = decodeTemplate(yaml)
        // `unused` only moves the rest of a replaced query line out of the way.
        #expect(messages.filter { !$0.contains("unknown field spec.unused") } == [message])
        #expect(spec == nil)
    }

    @Test(
        "reports a template Serin cannot run at its field, keeping the resource so references do not cascade",
        arguments: [
            (
                "type: prometheus\n    address: http://127.0.0.1:9090", "type: gateway",
                "test.yaml:6:11: error: spec.provider.type: provider gateway cannot run a MetricTemplate's query "
                    + "(the gateway only counts its own requests); expected prometheus"
            ),
            (
                "{{ interval }}", "{{ window }}",
                "test.yaml:8:10: error: spec.query: unknown variable {{ window }}; "
                    + "expected name, namespace, target, service, ingress, route, interval or variables.NAME"
            ),
            (
                "{{variables.app}}", "{{ vars.app }}",
                "test.yaml:8:10: error: spec.query: unknown variable {{ vars.app }}; "
                    + "expected name, namespace, target, service, ingress, route, interval or variables.NAME"
            ),
            (
                "{{variables.app}}", "{{ variables. }}",
                "test.yaml:8:10: error: spec.query: unknown variable {{ variables. }}; "
                    + "expected name, namespace, target, service, ingress, route, interval or variables.NAME"
            ),
            (
                "[{{ interval }}]", "[{{ interval ]",
                "test.yaml:8:10: error: spec.query: a {{ is not closed by }}"
            ),
        ]
    )
    func unsupported(original: String, replacement: String, message: String) {
        let yaml = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != Self.minimal)
        let (spec, messages) = decodeTemplate(yaml)
        #expect(messages == [message])
        #expect(spec != nil)
    }

    @Test("in a | block each unknown variable is reported at its own line and column, a deeper-indented line's too")
    func unknownVariableInBlockAtItsLine() {
        let yaml = """
            apiVersion: flagger.app/v1beta1
            kind: MetricTemplate
            metadata: {name: errors}
            spec:
              provider: {type: prometheus, address: http://127.0.0.1:9090}
              query: |
                sum(rate(errors{namespace="{{ namespace }}"}[{{ interval }}]))
                /
                  sum(rate(requests{app="{{ naem }}"}[{{ window }}]))
            """
        let (_, messages) = decodeTemplate(yaml)
        let expected = "expected name, namespace, target, service, ingress, route, interval or variables.NAME"
        #expect(messages == [
            "test.yaml:9:30: error: spec.query: unknown variable {{ naem }}; \(expected)",
            "test.yaml:9:43: error: spec.query: unknown variable {{ window }}; \(expected)",
        ])
    }

    @Test("an unknown variable used twice is reported once; whitespace inside the braces is allowed")
    func unknownVariableOnce() {
        let yaml = Self.minimal.replacingOccurrences(
            of: "{{ namespace }}", with: "{{pod}}{{   pod\t}}{{namespace}}{{target}}{{ service }}"
        )
        let (_, messages) = decodeTemplate(yaml)
        #expect(
            messages == [
                "test.yaml:8:10: error: spec.query: unknown variable {{ pod }}; "
                    + "expected name, namespace, target, service, ingress, route, interval or variables.NAME"
            ]
        )
    }

    @Test("accepts every variable Flagger's MetricTemplateModel fills: name, namespace, target, service, ingress, route, interval")
    func everyFlaggerVariable() throws {
        let query = #"up{canary="{{ name }}",ns="{{ namespace }}",t="{{ target }}",s="{{ service }}",i="{{ ingress }}",r="{{ route }}"}[{{ interval }}]"#
        let yaml = Self.minimal.replacingOccurrences(of: Self.minimalQuery, with: "'\(query)'")
        #expect(yaml != Self.minimal)
        let (spec, messages) = decodeTemplate(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(try #require(spec).query == query)
    }

    @Test("reads Flagger's provider.secretRef and an https address; a provider field Serin does not act on is an error in Flagger's group, saying why")
    func flaggerProviderFields() {
        let yaml = Self.flagger.replacingOccurrences(
            of: "    address: http://127.0.0.1:9090\n",
            with: "    address: https://prometheus.example/prometheus\n    secretRef:\n      name: prom-auth\n"
        )
        let (spec, messages) = decodeTemplate(yaml)
        #expect(messages == [])
        #expect(spec?.source == .prometheus(address: "https://prometheus.example/prometheus"))
        #expect(spec?.secretRef == "prom-auth")
        // Queried without it, a self-signed Prometheus would fail every check and roll the release back.
        let insecure = decodeTemplate(yaml.replacingOccurrences(of: "      name: prom-auth\n", with: "      name: prom-auth\n    insecureSkipVerify: true\n"))
        #expect(insecure.messages == [
            "test.yaml:12:5: error: spec.provider.insecureSkipVerify is not supported by Serin yet: Serin verifies the server's certificate; "
                + "give it one its CA signed, or an http:// address",
        ])
        #expect(insecure.spec == nil)
    }

    @Test("warns where Secrets are not read that a template with secretRef fails its checks, naming the Secret")
    func secretRefInFiles() {
        let yaml = Self.flagger.replacingOccurrences(
            of: "    address: http://127.0.0.1:9090\n", with: "    address: http://127.0.0.1:9090\n    secretRef: {name: prom-auth}\n"
        )
        let set = Fixture.set(yaml)
        #expect(
            Fixture.messages(set.diagnostics) == [
                "test.yaml:10:16: warning: MetricTemplate default/not-found-percentage: provider.secretRef names Secret prom-auth, "
                    + "which only serin controller reads (from its cluster); serin up and serin gateway fail this template's checks "
                    + "instead of querying without it"
            ]
        )
        #expect(set.errors.isEmpty)
    }

    @Test("decoding the same template again gives an equal resource; a changed query or address does not")
    func equality() {
        let first = Fixture.decode(Self.flagger, path: "a.yaml").resources
        let moved = Fixture.decode("# moved\n---\n" + Self.flagger, path: "b.yaml").resources
        #expect(first.count == 1)
        #expect(first.first?.resource == moved.first?.resource)
        #expect(first.first != moved.first)
        let serin = Fixture.decode(Self.flagger.replacingOccurrences(of: "flagger.app/v1beta1", with: "serin.dev/v1alpha1"))
        #expect(first.first?.resource == serin.resources.first?.resource)
        for (original, replacement) in [("404", "500"), ("127.0.0.1:9090", "127.0.0.1:9091")] {
            let changed = Fixture.decode(Self.flagger.replacingOccurrences(of: original, with: replacement)).resources
            #expect(changed.count == 1)
            #expect(first.first?.resource != changed.first?.resource)
        }
    }

    @Test("routing ignores MetricTemplates")
    func meshConfigIgnoresTemplates() {
        let with = Fixture.decode(Fixture.world + Self.flagger).resources
        let without = Fixture.decode(Fixture.world).resources
        #expect(with.count == without.count + 1)
        #expect(MeshConfig(resources: with) == MeshConfig(resources: without))
    }

    @Test("MetricTemplate is read from Serin's and Flagger's API versions only")
    func otherVersionSkipped() {
        let yaml = Self.flagger.replacingOccurrences(of: "flagger.app/v1beta1", with: "flagger.app/v1alpha3")
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(resources.isEmpty)
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:1:1: warning: skipped: kind MetricTemplate (flagger.app/v1alpha3) is not understood by Serin "
                    + "(it reads MetricTemplate from serin.dev/v1alpha1, flagger.app/v1beta1)"
            ]
        )
    }
}
