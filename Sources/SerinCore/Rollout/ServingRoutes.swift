/// The HTTP routes of a Canary's VirtualService as a router reads them — each route's destinations with the
/// share of traffic each takes — so the core can tell what serves now without knowing where the routes live.
public struct ServingRoutes: Hashable, Sendable {
    public var virtualService: ResourceName
    /// One entry per HTTP route, in order: its destinations with their weights (a lone destination takes 100).
    public var routes: [[WeightedDestination]]

    public init(virtualService: ResourceName, routes: [[WeightedDestination]]) {
        self.virtualService = virtualService
        self.routes = routes
    }

    /// The stable a new Canary's first release starts from: what its routes send traffic to now.
    ///
    /// The routes that matter are those that already name the canary, or every route when none does. A written
    /// `stable` must take traffic in them; without one, exactly one version other than the canary must.
    public func stable(for spec: CanarySpec) -> Result<Destination, ReleaseConflict> {
        let naming = routes.filter { route in route.contains { $0.destination.isSameVersion(as: spec.canary) } }
        let considered = naming.isEmpty ? routes : naming
        if let affinity = spec.analysis.sessionAffinity {
            for route in considered {
                for weighted in route {
                    guard let written = weighted.headers?.response.add[TrafficSplit.setCookie], !affinity.sets(written) else { continue }
                    return .failure(.setCookieInUse(weighted.destination, virtualService: virtualService))
                }
            }
        }
        let serving = considered.flatMap { $0.filter { $0.weight > 0 } }.map(\.destination).oneOfEachVersion()
        if let written = spec.stable {
            let named = routes.contains { route in route.contains { $0.destination.isSameVersion(as: written) } }
            // A version the routes no longer name at all (a release promoted since took its place) is said as one named
            // at 0%, with what serves now, below; with nothing but the canary serving, there is no route to it.
            guard named || serving.contains(where: { !$0.isSameVersion(as: spec.canary) }) else {
                return .failure(.noRoute(to: written, virtualService: virtualService))
            }
            if serving.contains(where: { $0.isSameVersion(as: written) }) { return .success(written) }
            if let now = serving.first(where: { !$0.isSameVersion(as: spec.canary) }) {
                return .failure(.stableNotServing(written: written, serving: now))
            }
            if serving.contains(where: { $0.isSameVersion(as: spec.canary) }) {
                return .failure(.canaryAlreadyServes(spec.canary))
            }
            return .success(written)
        }
        let candidates = serving.filter { !$0.isSameVersion(as: spec.canary) }
        switch candidates.count {
        case 1:
            return .success(candidates[0])
        case 0 where serving.contains { $0.isSameVersion(as: spec.canary) }:
            return .failure(.canaryAlreadyServes(spec.canary))
        case 0:
            return .failure(.noTraffic(virtualService: virtualService))
        default:
            return .failure(.ambiguousStable(candidates, virtualService: virtualService))
        }
    }

    /// What a release from `stable` to `canary` takes out of these routes: the versions other than those two that
    /// take traffic in a route the split owns (one that sends to the stable), each with its share there in percent
    /// (weights are relative, as Istio's). A split v1 90 / v2 10 released as v1 → v3 loses v2's 10%: said when the
    /// release starts, not done unsaid.
    public func displaced(stable: Destination, canary: Destination) -> [WeightedDestination] {
        var displaced: [WeightedDestination] = []
        for route in routes where route.contains(where: { $0.destination.isSameVersion(as: stable) }) {
            let total = route.reduce(0) { $0 + max($1.weight, 0) }
            for var weighted in route where weighted.weight > 0
                && !weighted.destination.isSameVersion(as: stable) && !weighted.destination.isSameVersion(as: canary)
                && !displaced.contains(where: { $0.destination.isSameVersion(as: weighted.destination) })
            {
                weighted.weight = (weighted.weight * 100 + total / 2) / total
                displaced.append(weighted)
            }
        }
        return displaced
    }

}

extension Sequence<Destination> {
    /// One destination per version (`isSameVersion`), first seen first.
    func oneOfEachVersion() -> [Destination] {
        var versions: [Destination] = []
        for destination in self where !versions.contains(where: { $0.isSameVersion(as: destination) }) {
            versions.append(destination)
        }
        return versions
    }
}

/// Why a release cannot start from what serves now. Nothing moves when one is found: the person fixes the
/// Canary, and the message says what to write.
public enum ReleaseConflict: Error, Hashable, Sendable, CustomStringConvertible {
    /// The written `stable` is not what serves (a release promoted since, or the routes send elsewhere).
    case stableNotServing(written: Destination, serving: Destination)
    /// The canary is the version that already serves all traffic: there is nothing to release.
    case canaryAlreadyServes(Destination)
    /// Several versions other than the canary take traffic, and no `stable` says which one the canary replaces.
    case ambiguousStable([Destination], virtualService: ResourceName)
    /// The routes send no traffic anywhere but to the canary, and no `stable` is written.
    case noTraffic(virtualService: ResourceName)
    /// The written `stable` appears in no route of the VirtualService.
    case noRoute(to: Destination, virtualService: ResourceName)
    /// Flagger's shape: the target runs the revision the primary already serves.
    case revisionAlreadyServes(deployment: String, revision: String)
    /// `sessionAffinity` needs a route entry's `headers.response.add` `Set-Cookie`, and the VirtualService already
    /// adds a cookie of its own there (Istio's `add` holds one value per header: one would replace the other).
    case setCookieInUse(Destination, virtualService: ResourceName)

    public var description: String {
        switch self {
        case .stableNotServing(let written, let serving):
            return "spec.stable is \(written), but \(serving) serves now; remove spec.stable (Serin releases from "
                + "what serves) or write stable: {\(Self.yaml(serving))}; nothing was changed"
        case .canaryAlreadyServes(let canary):
            return "spec.canary \(canary) is the version that serves now; to release a new version, "
                + "set spec.canary to it; nothing was changed"
        case .ambiguousStable(let candidates, let virtualService):
            return "VirtualService \(virtualService.name) sends traffic to "
                + candidates.map(\.description).joined(separator: " and ")
                + "; write spec.stable to say which one the canary replaces; nothing was changed"
        case .noTraffic(let virtualService):
            return "VirtualService \(virtualService.name) sends no traffic to any version but the canary; "
                + "write spec.stable to say what the canary replaces; nothing was changed"
        case .noRoute(let destination, let virtualService):
            return "VirtualService \(virtualService.name) has no route to \(destination); write spec.stable as a destination its "
                + "routes name, or remove it (Serin releases from what serves); nothing was changed"
        case .revisionAlreadyServes(let deployment, let revision):
            return "\(deployment)-primary already serves \(deployment) revision \(revision); change the Deployment's pod "
                + "template to release a new version; nothing was changed"
        case .setCookieInUse(let destination, let virtualService):
            return "VirtualService \(virtualService.name)'s route to \(destination) already adds a Set-Cookie response header "
                + "(headers.response.add), which analysis.sessionAffinity needs for its cookie (Istio adds one value per "
                + "header); set that cookie in the application, or drop sessionAffinity; nothing was changed"
        }
    }

    /// `host: web-v2-service, port: 80` — the destination as a person writes it in a Canary.
    private static func yaml(_ destination: Destination) -> String {
        var fields = ["host: \(destination.host)"]
        if let subset = destination.subset { fields.append("subset: \(subset)") }
        if let port = destination.port { fields.append("port: \(port)") }
        return fields.joined(separator: ", ")
    }
}
