import SerinCore

extension ManifestValidator {
    /// Each of a Canary's `analysis.alerts` names an AlertProvider of these files: one that is missing would lose
    /// every alert of the rollout, found out only when it matters. A Canary on a Deployment is warned instead: serin
    /// controller, the only one to run it, reads its providers from the cluster.
    static func alertReferences(in resources: [LocatedResource]) -> [Diagnostic] {
        let providers = resources.alertProviders
        var diagnostics: [Diagnostic] = []
        for located in resources {
            guard case .canary(let canary) = located.resource else { continue }
            for (index, alert) in canary.analysis.alerts.enumerated() where providers[alert.provider] == nil {
                let location = located.location(of: "spec.analysis.alerts[\(index)].providerRef")
                if canary.workload != nil {
                    diagnostics.append(.warning("alert \(alert.name): " + readFromCluster(
                        "AlertProvider", alert.provider, known: providers.keys, otherwise: "missing there too, this alert is logged, not sent"), at: location))
                } else {
                    diagnostics.append(.error(
                        "alert \(alert.name): " + doesNotExist("AlertProvider", alert.provider.description, known: providers.keys),
                        at: location))
                }
            }
        }
        return diagnostics
    }

    /// A provider whose address is in a Secret the files do not give: serin up cannot post to it, serin controller
    /// reads the Secret from its cluster. A warning, as the files may be meant for a cluster.
    static func alertProviderSecrets(in resources: [LocatedResource]) -> [Diagnostic] {
        let secrets = resources.secrets
        return resources.compactMap { located in
            guard case .alertProvider(let provider) = located.resource, let secret = provider.secretRef,
                secrets[ResourceName(namespace: provider.name.namespace, name: secret)] == nil
            else { return nil }
            return .warning(
                "AlertProvider \(provider.name): secretRef names Secret \(secret), which is not in these files; serin up "
                    + "cannot post its alerts without it (give the Secret with -f), serin controller reads it from its cluster",
                at: located.location(of: "spec.secretRef"))
        }
    }
}
