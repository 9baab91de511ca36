import SerinCore

/// Istio's VirtualService delegation, checked as istiod applies it: a root route's `delegate` names a VirtualService
/// with no hosts, whose http routes (none delegating again) stand in for that route, each within the root's match;
/// a VirtualService with no hosts is only ever such a delegate.
extension ManifestValidator {
    static func delegation(of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        if virtualService.hosts.isEmpty, !context.delegated.contains(virtualService.name) {
            diagnostics.append(
                .error(
                    "spec.hosts is required: a VirtualService without hosts is a delegate, and no VirtualService's http route "
                        + "names \(virtualService.name) in its delegate, so it routes nothing",
                    at: located.location(of: "spec")
                )
            )
        }
        for (index, route) in virtualService.http.enumerated() {
            guard let name = route.delegate else { continue }
            let path = "spec.http[\(index)].delegate"
            guard virtualService.hosts.isEmpty == false else {
                diagnostics.append(
                    .error("\(path): a delegate's routes may not delegate again (Istio supports one level)", at: located.location(of: path))
                )
                continue
            }
            guard let delegate = context.virtualServices[name] else {
                let message = doesNotExist("VirtualService", name.description, known: context.virtualServices.keys, unread: context.unread(.virtualService, name))
                diagnostics.append(.error("\(path).name: \(message)", at: located.location(of: "\(path).name")))
                continue
            }
            guard delegate.hosts.isEmpty else {
                diagnostics.append(
                    .error(
                        "\(path).name: VirtualService \(name) has hosts, and a delegate has none: its routes apply only where the root's "
                            + "route sends them", at: located.location(of: "\(path).name")
                    )
                )
                continue
            }
            for (delegateIndex, delegated) in delegate.http.enumerated() where delegated.delegate == nil && delegated.merged(into: route) == nil {
                diagnostics.append(
                    .warning(
                        "\(path): VirtualService \(name) spec.http[\(delegateIndex)] is dropped here: none of the root route's matches "
                            + "holds its match (a delegate's match must lie within the root's, as Istio merges them)",
                        at: located.location(of: path)
                    )
                )
            }
        }
        return diagnostics
    }
}
