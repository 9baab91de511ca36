import SerinCore

/// Checks that need more than one resource (does this host resolve? does that gateway exist?) or the
/// decoded values (do the weights add up?), each reported at the offending field.
public enum ManifestValidator {
    /// `unread`: documents of the same run whose errors kept them from being read; references to them say so.
    public static func validate(_ resources: [LocatedResource], unread: [UnreadResource] = []) -> [Diagnostic] {
        let context = ValidationContext(resources: resources, unread: unread)
        var diagnostics = duplicates(in: resources)
        var warnedWithoutEndpoints = Set<ResourceName>()
        for located in resources {
            guard case .virtualService(let virtualService) = located.resource else { continue }
            diagnostics += delegation(of: virtualService, at: located, context: context)
            // A delegate is bound where its roots are: it has no gateways or hosts of its own to check.
            if virtualService.hosts.isEmpty {
                diagnostics += routes(of: virtualService, at: located, context: context, warnedWithoutEndpoints: &warnedWithoutEndpoints)
                continue
            }
            diagnostics += gatewayBindings(of: virtualService, at: located, context: context)
            diagnostics += layer4Bindings(of: virtualService, at: located, context: context)
            diagnostics += routes(
                of: virtualService, at: located, context: context, warnedWithoutEndpoints: &warnedWithoutEndpoints
            )
        }
        diagnostics += canaries(
            in: resources, unread: unread.compactMap(\.canaryReferences), context: context,
            warnedWithoutEndpoints: &warnedWithoutEndpoints
        )
        diagnostics += metricTemplateReferences(in: resources, context: context)
        diagnostics += metricTemplateSecrets(in: resources)
        diagnostics += serverTLS(in: resources, context: context)
        diagnostics += unroutedPassthroughHosts(in: resources, context: context)
        diagnostics += unroutedTCPServers(in: resources, context: context)
        diagnostics += shadowedHTTPSHosts(in: resources)
        diagnostics += meshHostConflicts(in: resources, context: context)
        diagnostics += alertReferences(in: resources)
        diagnostics += alertProviderSecrets(in: resources)
        return diagnostics
    }

    /// Mesh-bound VirtualServices of one host: Istio's sidecars keep the first one's routes and drop the later's.
    static func meshHostConflicts(in resources: [LocatedResource], context: ValidationContext) -> [Diagnostic] {
        RouteTable.meshHostConflicts(in: context.config).compactMap { conflict in
            guard let located = resources.first(where: { $0.kind == .virtualService && $0.name == conflict.later }) else { return nil }
            return .warning(
                "\(located.label) routes host \(conflict.host) on port \(conflict.port) in the mesh, as VirtualService "
                    + "\(conflict.earlier.displayName) before it does: as Istio's sidecars, only the first one's routes apply "
                    + "there (Istio's analyzer calls this IST0109); merge them into one, or bind them to a Gateway, where they merge",
                at: located.location(of: "spec.hosts")
            )
        }
    }

    /// Two resources of one kind with one namespace/name: the second would silently replace the first.
    public static func duplicates(in resources: [LocatedResource]) -> [Diagnostic] {
        var first: [String: LocatedResource] = [:]
        var diagnostics: [Diagnostic] = []
        for located in resources {
            let key = "\(located.kind.rawValue) \(located.name)"
            if let earlier = first[key] {
                diagnostics.append(
                    .error("duplicate \(located.label): already defined at \(earlier.location)", at: located.location)
                )
            } else {
                first[key] = located
            }
        }
        return diagnostics
    }

    /// What a VirtualService's `gateways` entry naming no Gateway of the files is told (`doesNotExist`).
    static func missingGateway(_ name: ResourceName, context: ValidationContext) -> String {
        doesNotExist("gateway", name.description, known: context.gateways.keys, unread: context.unread(.gateway, name))
    }

    /// `VirtualService default/web-vs does not exist (VirtualServices: default/web-virtualservice)`: the names
    /// that do exist are listed, so a typo or a wrong namespace is easy to spot. One that is in the files but has
    /// errors (`unread`, where its first error is) is said to be that.
    static func doesNotExist(
        _ kind: String, _ name: String, known: some Collection<ResourceName>, unread: SourceLocation? = nil
    ) -> String {
        if let unread { return "\(kind) \(name) is not read: it has errors (the first at \(unread))" }
        return "\(kind) \(name) does not exist" + listed(known, as: "\(kind)s")
    }

    /// What a Canary on a Deployment is told of a reference its files do not hold: it runs only under serin controller,
    /// which reads the object from the Canary's cluster when the analysis needs it. The names the files do hold are
    /// listed, as `doesNotExist` lists them, so a typo still shows.
    static func readFromCluster(
        _ kind: String, _ name: ResourceName, known: some Collection<ResourceName>, otherwise: String
    ) -> String {
        "\(kind) \(name) is not in these files" + listed(known, as: "\(kind)s in them") + ": serin controller reads it "
            + "from the cluster when the Canary runs (a Canary on a Deployment runs only there); \(otherwise)"
    }

    /// ` (HEADING: a, b)`, the names `known` sorted, or nothing when there are none.
    private static func listed(_ known: some Collection<ResourceName>, as heading: String) -> String {
        known.isEmpty ? "" : " (\(heading): \(known.sorted().map(\.description).joined(separator: ", ")))"
    }
}
