import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("ManifestValidator: MetricTemplates")
struct ManifestValidatorMetricTemplateTests {
    private static let virtualService = Fixture.virtualService

    /// A template whose query needs `{{ variables.app }}` and `{{ variables.code }}`.
    private static let template = """
        apiVersion: flagger.app/v1beta1
        kind: MetricTemplate
        metadata: {name: errors, namespace: monitoring}
        spec:
          provider: {type: prometheus, address: "http://127.0.0.1:9090"}
          query: sum(rate(errors{app="{{ variables.app }}",code="{{variables.code}}",ns="{{ namespace }}"}[{{ interval }}]))
        ---

        """

    /// A Canary with one custom metric, written on line 10 of its document.
    private static func canary(templateRef: String, variables: String = "{app: web, code: \"500\"}") -> String {
        """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: web}
        spec:
          targetRef: {name: web-virtualservice}
          stable: {host: web-v1-service, port: 80}
          canary: {host: web-v2-service, port: 80}
          analysis:
            stepWeight: 10
            maxWeight: 50
            metrics:
            - name: error-count
              templateRef: \(templateRef)
              templateVariables: \(variables)
              thresholdRange: {max: 1}

        """
    }

    /// Validation messages for the world, the VirtualService, `templates`, then `canary`; decoding must be clean.
    private func validate(templates: String = Self.template, _ canary: String) -> [String] {
        let yaml = Fixture.world + Self.virtualService + templates + canary
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty, "decoding: \(Fixture.messages(diagnostics))")
        return Fixture.messages(ManifestValidator.validate(resources))
    }

    /// `test.yaml:L:C` for line `line` of the Canary, after the world, the VirtualService and `templates`.
    private func at(_ line: Int, _ column: Int, templates: String = Self.template) -> String {
        let templateLines = templates.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        return "test.yaml:\(Fixture.worldLines + 10 + templateLines + line):\(column)"
    }

    @Test("a templateRef naming a MetricTemplate that gets every variable it uses validates cleanly")
    func clean() {
        #expect(validate(Self.canary(templateRef: "{name: errors, namespace: monitoring}")) == [])
        #expect(validate(Self.canary(templateRef: "{name: errors, namespace: monitoring}", variables: "{app: web, code: x, extra: y}")) == [])
    }

    @Test("a templateRef must name an existing MetricTemplate; the Canary's namespace is assumed")
    func missingTemplate() {
        #expect(
            validate(Self.canary(templateRef: "{name: errors}")) == [
                "\(at(13, 20)): error: MetricTemplate default/errors does not exist (MetricTemplates: monitoring/errors)"
            ]
        )
        #expect(
            validate(templates: "", Self.canary(templateRef: "{name: errors}"))
                == ["\(at(13, 20, templates: "")): error: MetricTemplate default/errors does not exist"]
        )
    }

    @Test("every variable the template's query uses must be set by the metric's templateVariables")
    func missingVariables() {
        #expect(
            validate(Self.canary(templateRef: "{name: errors, namespace: monitoring}", variables: "{code: \"500\"}")) == [
                "\(at(12, 7)): error: metric error-count: templateVariables must set app, "
                    + "used by the query of MetricTemplate monitoring/errors"
            ]
        )
        let withoutVariables = Self.canary(templateRef: "{name: errors, namespace: monitoring}")
            .replacingOccurrences(of: "      templateVariables: {app: web, code: \"500\"}\n", with: "")
        #expect(
            validate(withoutVariables) == [
                "\(at(12, 7)): error: metric error-count: templateVariables must set app, code, "
                    + "used by the query of MetricTemplate monitoring/errors"
            ]
        )
    }

    @Test("a template Serin cannot run still satisfies references, so only its own error is reported")
    func unsupportedTemplateStillResolves() {
        let gateway = Self.template.replacingOccurrences(
            of: "{type: prometheus, address: \"http://127.0.0.1:9090\"}", with: "{type: gateway}"
        )
        let set = Fixture.set(Fixture.world + Self.virtualService + gateway + Self.canary(templateRef: "{name: errors, namespace: monitoring}"))
        #expect(set.errors.count == 1)
        #expect(set.errors.first?.message.hasPrefix("spec.provider.type: provider gateway cannot run") == true)
    }
}
