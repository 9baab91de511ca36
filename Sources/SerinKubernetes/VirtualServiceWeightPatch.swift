import SerinCore

/// The change that moves a rollout's weights in a VirtualService as Kubernetes stores it, computed on the raw
/// object: only the HTTP and TCP routes that send to the Canary's stable destination are Serin's, and in them only
/// the destinations and weights change. Every other route, field and annotation stays byte for byte as the user
/// wrote it, and each changed route is guarded by a `test` of what Serin read, so a concurrent edit of those
/// routes makes the patch fail instead of being overwritten.
public enum VirtualServiceWeightPatch {
    /// Why no patch could be computed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAVirtualService(String)
        case noRouteToStable(virtualService: String, host: String)

        public var description: String {
            switch self {
            case .notAVirtualService(let why): "not a VirtualService: \(why)"
            case .noRouteToStable(let name, let host): "VirtualService \(name) has no route to \(host)"
            }
        }
    }

    /// The operations that give every route the split owns exactly two destinations, stable and canary, with
    /// their weights, and, while the split has A/B matches, a route ahead of it to the canary for those; the
    /// split's A/B route goes once it has none; while the split mirrors, `mirror` and `mirrorPercentage` to the
    /// canary, which go once it does not. A sticky canary's cookies and routes are rendered the same way
    /// (`VirtualServiceAffinityRoute`). Empty when the routes are already so. A route's destination entries keep their other
    /// fields (`headers`...) — the new stable's from its own entry, or else from the entry that made the route
    /// the Canary's — and a destination without a port keeps the port the route had.
    public static func operations(for virtualService: JSONValue, split: TrafficSplit) throws -> [JSONPatchOperation] {
        let name = virtualService["metadata"]?["name"]?.stringValue ?? "(unnamed)"
        let tcp = virtualService["spec"]?["tcp"]?.arrayValue
        guard let routes = virtualService["spec"]?["http"]?.arrayValue ?? tcp.map({ _ in [] }) else {
            throw Failure.notAVirtualService("\(name) has no spec.http or spec.tcp list")
        }
        let (tcpOperations, tcpOwned) = Self.tcpOperations(tcp ?? [], split: split)
        var operations = tcpOperations
        var owned = tcpOwned
        // What the list becomes (`TrafficSplit.routes(replacing:)`), and what the per-route changes alone make it.
        var desired: [JSONValue] = []
        var patched = routes
        // Each route's index and whether the split owns it; the routes the split adds itself are not among them.
        let considered = routes.indices.filter { !split.addsRoute(named: routes[$0]["name"]?.stringValue) }
        let owns = Dictionary(uniqueKeysWithValues: zip(considered, split.ownedRoutes(considered.map { index in
            Self.weighted(routes[index]["route"]?.arrayValue ?? []).map(\.destination)
        })))
        for (routeIndex, route) in routes.enumerated() {
            guard let isOwned = owns[routeIndex] else { continue }
            guard let entries = route["route"]?.arrayValue, case .object(var fields) = route, isOwned else {
                desired.append(route)
                continue
            }
            owned += 1
            let path: JSONPointer = ["spec", "http", String(routeIndex), "route"]
            let wanted = VirtualServiceAffinityRoute.withCookies(Self.splitEntries(replacing: entries, split: split), split: split)
            fields["route"] = .array(wanted)
            if let matchRoute = VirtualServiceMatchRoute.route(ahead: route, canaryEntry: wanted[1], split: split) {
                desired.append(matchRoute)
            }
            desired += VirtualServiceAffinityRoute.routes(ahead: .object(fields), split: split)
            let mirrorChanged = VirtualServiceMirror.apply(split, canaryEntry: wanted[1], to: &fields)
            desired.append(.object(fields))
            guard wanted != entries || mirrorChanged else { continue }
            patched[routeIndex] = .object(fields)
            if mirrorChanged {
                // The mirror comes or goes beside the weights: the whole route changes, guarded by all of it.
                let routePath: JSONPointer = ["spec", "http", String(routeIndex)]
                operations.append(.test(path: routePath, value: route))
                operations.append(.replace(path: routePath, value: .object(fields)))
                continue
            }
            operations.append(.test(path: path, value: .array(entries)))
            operations.append(.replace(path: path, value: .array(wanted)))
        }
        guard owned > 0 else {
            throw Failure.noRouteToStable(virtualService: name, host: split.stable.destination.description)
        }
        // A/B testing's or affinity's routes come or go: the whole list changes, guarded by all of it as read.
        guard desired == patched else {
            return tcpOperations + [.test(path: ["spec", "http"], value: .array(routes)), .replace(path: ["spec", "http"], value: .array(desired))]
        }
        return operations
    }

    /// The tcp routes' part (`TrafficSplit.routes(replacing:)` for TCP): each route that sends to the stable gets
    /// exactly the split's two destinations and weights, guarded by a `test` of its entries as read; how many it owns.
    private static func tcpOperations(_ routes: [JSONValue], split: TrafficSplit) -> ([JSONPatchOperation], Int) {
        let entries = routes.map { $0["route"]?.arrayValue ?? [] }
        let owns = split.ownedRoutes(entries.map { weighted($0).map(\.destination) })
        var operations: [JSONPatchOperation] = []
        for (index, route) in entries.enumerated() where owns[index] {
            let wanted = splitEntries(replacing: route, split: split)
            guard wanted != route else { continue }
            let path: JSONPointer = ["spec", "tcp", String(index), "route"]
            operations += [.test(path: path, value: .array(route)), .replace(path: path, value: .array(wanted))]
        }
        return (operations, owns.filter { $0 }.count)
    }

    /// An owned route's entries (http or tcp) replaced by the split's two, stable then canary, with their weights:
    /// each keeps the other fields of the route's own entry for its version — the stable's, when the route has none
    /// for it, from the entry that made the route the Canary's.
    private static func splitEntries(replacing entries: [JSONValue], split: TrafficSplit) -> [JSONValue] {
        let weighted = Self.weighted(entries)
        let owner = entries[split.ownerIndex(of: weighted.map(\.destination)) ?? 0]
        func entry(of version: Destination) -> JSONValue? {
            weighted.firstIndex { $0.destination.sameService(as: version) }.map { entries[$0] }
        }
        let targets = split.destinations(replacing: weighted)
        return [
            Self.entry(for: targets[0], keeping: entry(of: split.stable.destination) ?? owner),
            Self.entry(for: targets[1], keeping: entry(of: split.canary.destination) ?? [:]),
        ]
    }

    /// The routes' destinations and weights, as the core reads what serves.
    public static func servingRoutes(of virtualService: JSONValue, name: ResourceName) throws -> ServingRoutes {
        let http = virtualService["spec"]?["http"]?.arrayValue
        let tcp = virtualService["spec"]?["tcp"]?.arrayValue
        guard http != nil || tcp != nil else {
            throw Failure.notAVirtualService("\(name.name) has no spec.http or spec.tcp list")
        }
        let routes = (http ?? []) + (tcp ?? [])
        return ServingRoutes(virtualService: name, routes: routes.compactMap { $0["route"]?.arrayValue }.map(weighted).filter { !$0.isEmpty })
    }

    /// A route's entries with their weights as Istio reads them: a lone destination without a weight takes all. A
    /// `Set-Cookie` the entry adds to responses comes along (a sticky canary needs that header for its own cookie).
    static func weighted(_ entries: [JSONValue]) -> [WeightedDestination] {
        entries.compactMap { entry in
            destination(of: entry).map {
                var weighted = WeightedDestination(destination: $0, weight: entry["weight"]?.intValue ?? (entries.count == 1 ? 100 : 0))
                if case .object(let add)? = entry["headers"]?["response"]?["add"],
                    let cookie = add.first(where: { $0.key.lowercased() == TrafficSplit.setCookie })?.value.stringValue
                {
                    weighted.headers = RouteHeaders(response: HeaderOperations(add: [TrafficSplit.setCookie: cookie]))
                }
                return weighted
            }
        }
    }

    /// The destination a route entry sends to: `{destination: {host, subset, port: {number}}}`.
    static func destination(of entry: JSONValue) -> Destination? {
        entry["destination"].flatMap(destination(ofTarget:))
    }

    /// The destination an Istio `Destination` object names: `{host, subset, port: {number}}` (a route's `mirror`).
    static func destination(ofTarget destination: JSONValue) -> Destination? {
        guard let host = destination["host"]?.stringValue else { return nil }
        return Destination(host: host, subset: destination["subset"]?.stringValue, port: destination["port"]?["number"]?.intValue)
    }

    /// `entry` (the route's own entry for this destination, or another to take fields from) pointing at `weighted`.
    private static func entry(for weighted: WeightedDestination, keeping entry: JSONValue) -> JSONValue {
        guard case .object(var fields) = entry else { return entry }
        var destination: [String: JSONValue] = [:]
        // Another version's entry lends its other fields, never its subset.
        if case .object(let existing)? = fields["destination"], existing["host"]?.stringValue == weighted.destination.host {
            destination = existing
        } else if case .object(var existing)? = fields["destination"] {
            existing["subset"] = nil
            destination = existing
        }
        destination["host"] = .string(weighted.destination.host)
        if let subset = weighted.destination.subset { destination["subset"] = .string(subset) }
        if let port = weighted.destination.port { destination["port"] = ["number": .number(Double(port))] }
        fields["destination"] = .object(destination)
        fields["weight"] = .number(Double(weighted.weight))
        return .object(fields)
    }
}
