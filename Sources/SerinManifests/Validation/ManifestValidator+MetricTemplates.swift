import SerinCore

extension ManifestValidator {
    /// `metricTemplateReferences` for some Canaries alone (the one `serin simulate` runs), looked up among
    /// `resources`, without the checks that need the routes.
    public static func metricTemplateReferences(of canaries: [LocatedResource], among resources: [LocatedResource]) -> [Diagnostic] {
        metricTemplateReferences(in: canaries, context: ValidationContext(resources: resources))
    }

    /// Each custom metric's templateRef names a MetricTemplate, and sets every `{{ variables.NAME }}` its
    /// query uses: a variable left unset would fail every check of the rollout, not the manifest. A Canary on a
    /// Deployment (which only serin controller runs, reading its templates from the cluster) is warned of a template
    /// missing from the files, not refused: such a Canary is often checked on its own.
    static func metricTemplateReferences(in resources: [LocatedResource], context: ValidationContext) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for located in resources {
            guard case .canary(let canary) = located.resource else { continue }
            for (index, metric) in canary.analysis.metrics.enumerated() {
                guard case .custom(let reference) = metric.kind else { continue }
                let path = "spec.analysis.metrics[\(index)]"
                let templateName = ResourceName(reference: reference, relativeTo: canary.name.namespace)
                guard let template = context.metricTemplates[templateName] else {
                    let unread = context.unread(.metricTemplate, templateName)
                    let location = located.location(of: "\(path).templateRef")
                    if canary.workload != nil, unread == nil {
                        diagnostics.append(.warning(readFromCluster(
                            "MetricTemplate", templateName, known: context.metricTemplates.keys, otherwise: "missing there too, each check of this metric fails"), at: location))
                    } else {
                        let message = doesNotExist("MetricTemplate", reference, known: context.metricTemplates.keys, unread: unread)
                        diagnostics.append(.error(message, at: location))
                    }
                    continue
                }
                let missing = template.variableNames.filter { metric.templateVariables[$0] == nil }
                if !missing.isEmpty {
                    diagnostics.append(
                        .error(
                            "metric \(metric.name): templateVariables must set \(missing.joined(separator: ", ")), "
                                + "used by the query of MetricTemplate \(template.name)",
                            at: located.location(of: path)
                        )
                    )
                }
            }
        }
        return diagnostics
    }

    /// A template whose credentials are in a Secret: files name no Secrets and the embedded gateway reads none,
    /// so its checks will fail saying why. A warning, not an error: the same files may be meant for a cluster,
    /// where serin controller reads the Secret (as a Canary on a Deployment is refused only when it runs here).
    static func metricTemplateSecrets(in resources: [LocatedResource]) -> [Diagnostic] {
        resources.compactMap { located in
            guard case .metricTemplate(let template) = located.resource, let secret = template.secretRef else { return nil }
            return .warning(
                "MetricTemplate \(template.name): provider.secretRef names Secret \(secret), which only serin controller reads "
                    + "(from its cluster); serin up and serin gateway fail this template's checks instead of querying without it",
                at: located.location(of: "spec.provider.secretRef")
            )
        }
    }
}
