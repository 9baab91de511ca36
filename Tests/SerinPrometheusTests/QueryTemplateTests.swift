import SerinPrometheus
import Testing

@Suite("QueryTemplate")
struct QueryTemplateTests {
    let context = QueryContext(
        name: "web", namespace: "shop", target: "web-v2-service", service: "web-v1-service", interval: .seconds(90),
        variables: ["cluster": "eu-1", "quantile": "0.95"]
    )

    @Test("renders every variable, with or without spaces inside the braces")
    func allVariables() throws {
        let template = QueryTemplate(
            "{{name}}|{{ namespace }}|{{target}}|{{  service  }}|{{ingress}}|{{ route }}|{{ interval }}|{{variables.cluster}}|{{ variables.quantile }}"
        )
        #expect(try template.render(context) == "web|shop|web-v2-service|web-v1-service|web-v2-service|web-v2-service|1m30s|eu-1|0.95")
    }

    @Test("leaves text without placeholders unchanged, single braces included")
    func plainText() throws {
        #expect(try QueryTemplate(#"sum(up{job="a"})"#).render(context) == #"sum(up{job="a"})"#)
    }

    @Test("names an unknown variable and lists the known ones", arguments: ["pod", "variables.region", ""])
    func unknownVariable(name: String) {
        #expect(throws: QueryTemplateError.unknownVariable(name: name, known: [
            "name", "namespace", "target", "service", "ingress", "route", "interval", "variables.cluster", "variables.quantile",
        ])) {
            try QueryTemplate("rate(x{a=\"{{ \(name) }}\"}[1m])").render(context)
        }
    }

    @Test("says which variable is unknown and what is expected")
    func unknownVariableMessage() {
        let error = QueryTemplateError.unknownVariable(name: "pod", known: ["namespace", "target"])
        #expect(error.description == #"query template: unknown variable "pod", expected one of namespace, target"#)
    }

    @Test("reports where an unclosed placeholder starts")
    func unclosed() {
        #expect(throws: QueryTemplateError.unclosedBraces(offset: 4)) {
            try QueryTemplate("sum({{ namespace )").render(context)
        }
    }

    @Test("writes intervals in Prometheus duration syntax", arguments: [
        (Duration.seconds(30), "30s"),
        (.seconds(60), "1m"),
        (.seconds(90), "1m30s"),
        (.milliseconds(500), "500ms"),
        (.milliseconds(1500), "1s500ms"),
        (.seconds(3600), "1h"),
        (.seconds(5430), "1h30m30s"),
        (.zero, "0s"),
        (.microseconds(1500), "2ms"),
        (.seconds(-30), "-30s"),
    ])
    func durations(duration: Duration, expected: String) {
        #expect(PrometheusDuration.format(duration) == expected)
    }
}
