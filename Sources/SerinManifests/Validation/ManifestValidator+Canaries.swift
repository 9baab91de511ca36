import SerinCore

extension ManifestValidator {
    /// The errors `serin validate` finds in `canaries`' VirtualService (that it exists, routes to the stable, and
    /// leaves a mirroring Canary no mirror to replace) among `resources`, and in their destinations when the
    /// resources hold any Service or ServiceEntry to resolve them: for a command given a Canary beside the routes it
    /// names, not necessarily with the Services those routes resolve to.
    public static func canaryReferences(of canaries: [LocatedResource], among resources: [LocatedResource]) -> [Diagnostic] {
        var warned: Set<ResourceName> = []
        let resolvable = resources.contains { $0.kind == .service || $0.kind == .serviceEntry }
        return Self.canaries(
            in: canaries, context: ValidationContext(resources: resources), warnedWithoutEndpoints: &warned,
            checkingDestinations: resolvable
        ).filter { $0.severity == .error }
    }

    /// Each Canary's VirtualService exists and routes to its written stable destination, its destinations resolve,
    /// and no two Canaries drive one VirtualService (they would fight over its weights). `unread`: the references of
    /// Canaries not read for their errors, checked alike but for what needs the rest of the Canary (its mirror).
    static func canaries(
        in resources: [LocatedResource], unread: [CanaryReferences] = [], context: ValidationContext,
        warnedWithoutEndpoints: inout Set<ResourceName>, checkingDestinations: Bool = true
    ) -> [Diagnostic] {
        let read = resources.compactMap { located -> (CanaryReferences, CanarySpec?)? in
            guard case .canary(let canary) = located.resource else { return nil }
            // Flagger's shape (no references): Serin creates the VirtualService and Services itself (on Kubernetes).
            return CanaryReferences(canary, at: located).map { ($0, canary) }
        }
        var diagnostics: [Diagnostic] = []
        var drivers: [ResourceName: CanaryReferences] = [:]
        for (references, canary) in read + unread.map({ ($0, nil) }) {
            for (key, destination) in [("stable", references.stable), ("canary", references.canary)] where checkingDestinations {
                guard let destination else { continue }
                diagnostics += self.destination(
                    destination, path: "spec.\(key)", portPath: "spec.\(key).port", at: references, context: context,
                    namespace: references.name.namespace, warnedWithoutEndpoints: &warnedWithoutEndpoints
                )
            }
            let targetRef = references.targetRef
            let targetLocation = references.location(of: "spec.targetRef.name")
            guard let virtualService = context.virtualServices[targetRef] else {
                let message = doesNotExist(
                    "VirtualService", targetRef.description, known: context.virtualServices.keys,
                    unread: context.unread(.virtualService, targetRef)
                )
                diagnostics.append(.error(message, at: targetLocation))
                continue
            }
            if let driver = drivers[targetRef] {
                diagnostics.append(
                    .error("VirtualService \(targetRef) is already driven by \(driver.label) at \(driver.location)", at: targetLocation)
                )
            } else {
                drivers[targetRef] = references
            }
            if virtualService.http.isEmpty && virtualService.tcp.isEmpty && !virtualService.tls.isEmpty {
                diagnostics.append(
                    .error(
                        "VirtualService \(virtualService.name) has only tls routes: a Canary's judge needs HTTP metrics "
                            + "(request success rate and duration), which passed-through TLS connections do not give, so Serin "
                            + "moves the weights of http and tcp routes only",
                        at: targetLocation
                    )
                )
                continue
            }
            if let canary, virtualService.http.isEmpty, !virtualService.tcp.isEmpty {
                diagnostics += httpOnlyAnalysis(of: canary, on: virtualService, at: references)
            }
            if let canary, canary.analysis.mirror != nil, let problem = mirrorInUse(virtualService, by: canary, config: context.config) {
                diagnostics.append(.error(problem, at: references.location(of: "spec.analysis.mirror")))
            }
            // Without a written stable the controller finds what serves, from the routes and the rollout's state.
            guard let stable = references.stable else { continue }
            let routesToStable = (virtualService.http.map(\.destinations) + virtualService.tcp.map(\.destinations)).contains { route in
                route.contains { sendsTo($0.destination, stable: stable, config: context.config) }
            }
            if !routesToStable {
                let stable = stable.host + (stable.subset.map { " subset \($0)" } ?? "")
                diagnostics.append(
                    .error(
                        "VirtualService \(virtualService.name.name) has no route to \(stable)",
                        at: references.location(of: "spec.stable.host")
                    )
                )
            }
        }
        return diagnostics
    }

    /// Why blue/green with mirroring cannot run on `virtualService`: a route the Canary would own already mirrors
    /// to another host. A route carries one `mirror`, the release's copy to the canary would take its place, and the
    /// user's would not come back (a route's `mirrors` stay beside the release's copy, so they are no conflict). The routes the Canary owns are those sending to its stable:
    /// the written one, else what its first release starts from (`ServingRoutes.stable(for:)`).
    static func mirrorInUse(_ virtualService: VirtualService, by canary: CanarySpec, config: MeshConfig) -> String? {
        let serving = ServingRoutes(
            virtualService: virtualService.name, routes: virtualService.http.filter { !$0.destinations.isEmpty }.map(\.destinations))
        guard let stable = canary.stable ?? (try? serving.stable(for: canary).get()) else { return nil }
        for (index, route) in virtualService.http.enumerated() {
            guard let mirror = route.mirror, !mirror.destination.sameService(as: canary.canary),
                route.destinations.contains(where: { $0.destination.sameService(as: stable) })
            else { continue }
            let target = mirror.destination.host + (mirror.destination.port.map { ":\($0)" } ?? "")
            return "spec.analysis.mirror cannot run on VirtualService \(virtualService.name.name): its http[\(index)] already "
                + "mirrors to \(target), a route carries one mirror, and the release's copy to the canary would replace it "
                + "for good; write it in mirrors instead (mirrors: [{destination: {host: \(mirror.destination.host)}}]), which keep it "
                + "beside the release's copy, move it to a route of its own, or release without analysis.mirror"
        }
        return nil
    }

    /// Whether a route destination is the Canary's stable one, the route Serin owns: the same service (by any of
    /// its host names) and subset, and the same port unless either leaves it to the service's only port.
    static func sendsTo(_ destination: Destination, stable: Destination, config: MeshConfig) -> Bool {
        guard destination.subset == stable.subset else { return false }
        if let port = destination.port, let stablePort = stable.port, port != stablePort { return false }
        if destination.host.lowercased() == stable.host.lowercased() { return true }
        guard let service = config.service(forHost: stable.host) else { return false }
        return config.service(forHost: destination.host) == service
    }
}
