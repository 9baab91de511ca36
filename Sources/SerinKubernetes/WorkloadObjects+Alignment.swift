import SerinCore

extension WorkloadObjects {
    /// Brings an object Serin created for the Canary in line with what its `spec.service` asks now, as Flagger does
    /// on every reconcile: the fields Serin writes from `spec.service` are set, everything else stays as stored.
    /// Services get their `ports`, `selector` and `trafficDistribution` (their `clusterIP`, which the API server never
    /// changes in place, stays: a `headless` edit reaches only Services created after it, as in Flagger), DestinationRules
    /// their `host` and `trafficPolicy`. The VirtualService
    /// gets `hosts` and `gateways`, its Canary route (the unnamed one to the primary) `match`, `retries`, `timeout`,
    /// `headers`, `rewrite` and `corsPolicy` (a tcp Canary route: `match`, the ports), and every destination and mirror
    /// to the primary or canary Service the new port, while each route keeps its weights and its mirror; an edit of
    /// `appProtocol` to or from tcp moves the Canary route between `http` and `tcp`, weights and all. Services and the
    /// VirtualService get the labels and annotations `spec.service` writes for them, but for the keys
    /// `unmanagedMetadata` names, which keep the value stored (another controller's).
    /// The routes a release adds (A/B testing's, the sticky canary's) are copies of the Canary route: with `split`,
    /// the one the stored rollout sets, they take its new route fields too (`releaseRoutes`). The primary Deployment
    /// and its autoscaler belong to the release and are left alone. Returns whether anything changed: an object
    /// already in line is not written.
    static func align(
        _ fields: inout [String: JSONValue], with desired: Desired, workload: CanaryWorkload, split: TrafficSplit? = nil
    ) -> Bool {
        let before = fields
        var spec = fields["spec"]?.objectValue ?? [:]
        let wanted = desired.object["spec"]
        // The labels and annotations `spec.service` writes are set; others the object carries (kubectl's, a
        // person's) stay, and so does the stored value of a key `unmanagedMetadata` names, as in Flagger.
        if case .object(var metadata)? = fields["metadata"] {
            for key in ["labels", "annotations"] {
                guard let written = desired.object["metadata"]?[key]?.objectValue else { continue }
                var stored = metadata[key]?.objectValue ?? [:]
                let unmanaged = desired.unmanagedMetadata[key] ?? []
                for (name, value) in written where stored[name] == nil || !unmanaged.contains(name) { stored[name] = value }
                metadata[key] = .object(stored)
            }
            fields["metadata"] = .object(metadata)
        }
        switch desired.object["kind"]?.stringValue {
        case "Service":
            spec["ports"] = wanted?["ports"]
            spec["selector"] = wanted?["selector"]
            spec["trafficDistribution"] = wanted?["trafficDistribution"]
        case "DestinationRule":
            spec["host"] = wanted?["host"]
            spec["trafficPolicy"] = wanted?["trafficPolicy"]
        case "VirtualService":
            spec["hosts"] = wanted?["hosts"]
            spec["gateways"] = wanted?["gateways"]
            let (list, other) = wanted?["tcp"] != nil ? ("tcp", "http") : ("http", "tcp")
            let canaryRoute = wanted?[list]?[0]
            if spec[list] == nil, let moved = movedCanaryRoute(from: spec[other], to: canaryRoute, workload: workload) {
                // `service.appProtocol` changed between tcp and another: the Canary route changes list with its weights,
                // and the list Flagger no longer writes goes.
                spec[list] = [moved]
                spec[other] = nil
            }
            if let routes = spec[list]?.arrayValue {
                let routeFields = list == "tcp" ? tcpRouteFields : serviceRouteFields
                var routes = routes.map { aligned($0, like: canaryRoute, routeFields: routeFields, workload: workload) }
                if list == "http", let split { routes = releaseRoutes(routes, split: split, workload: workload) }
                spec[list] = .array(routes)
            }
        default:
            return false
        }
        fields["spec"] = .object(spec)
        return fields != before
    }

    /// The fields of `spec.service` a Canary route carries (`desired` writes them; absent ones are removed).
    static let serviceRouteFields = ["match", "retries", "timeout", "headers", "rewrite", "corsPolicy"]
    /// The fields a tcp Canary route takes from `spec.service`: its `match`, the ports of `service.match`.
    static let tcpRouteFields = ["match"]

    /// The Canary route of `routes` (the list `service.appProtocol` no longer asks for) as `canaryRoute`, the one
    /// `desired` writes in the other list, with the stored route's destinations and weights; nil when there is none.
    private static func movedCanaryRoute(from routes: JSONValue?, to canaryRoute: JSONValue?, workload: CanaryWorkload) -> JSONValue? {
        guard case .object(var fields)? = canaryRoute,
            let stored = routes?.arrayValue?.first(where: { isCanaryRoute($0, workload: workload) })?["route"]?.arrayValue
        else { return nil }
        // Only what both kinds of route entry have: an http entry's `headers` has no place in a tcp route.
        fields["route"] = .array(stored.map { entry in
            var kept: [String: JSONValue] = ["destination": entry["destination"] ?? [:]]
            kept["weight"] = entry["weight"]
            return .object(kept)
        })
        return .object(fields)
    }

    /// One route of the VirtualService: destinations to the workload's Services on the new port and, for the
    /// Canary's own route, the `routeFields` of `canaryRoute`.
    private static func aligned(_ route: JSONValue, like canaryRoute: JSONValue?, routeFields: [String], workload: CanaryWorkload) -> JSONValue {
        guard case .object(var fields) = route else { return route }
        let hosts: Set<String> = [workload.primaryService, workload.canaryService]
        func onPort(_ destination: JSONValue?) -> JSONValue? {
            guard case .object(var target)? = destination, let host = target["host"]?.stringValue, hosts.contains(host) else {
                return destination
            }
            target["port"] = ["number": .number(Double(workload.port))]
            return .object(target)
        }
        let entries = fields["route"]?.arrayValue ?? []
        if isCanaryRoute(route, workload: workload) {
            for key in routeFields { fields[key] = canaryRoute?[key] }
        }
        if fields["route"] != nil {
            fields["route"] = .array(entries.map { entry in
                guard case .object(var entryFields) = entry else { return entry }
                entryFields["destination"] = onPort(entryFields["destination"])
                return .object(entryFields)
            })
        }
        if fields["mirror"] != nil { fields["mirror"] = onPort(fields["mirror"]) }
        return .object(fields)
    }

    /// Whether `route` is the Canary route: the unnamed one to the primary, which `spec.service` shapes.
    private static func isCanaryRoute(_ route: JSONValue, workload: CanaryWorkload) -> Bool {
        route["name"] == nil && (route["route"]?.arrayValue ?? []).contains { $0["destination"]?["host"]?.stringValue == workload.primaryService }
    }

    /// `routes` with each route a release added ahead of the Canary route given that route's `spec.service` fields
    /// as `split` renders it (`VirtualServiceMatchRoute`, `VirtualServiceAffinityRoute`): the A/B route's and the
    /// affinity routes' `match` the split's within the Canary route's own. Their destinations, weights and cookies
    /// stay as stored, and no such route is added or removed here: that is the router's, with the weights.
    private static func releaseRoutes(_ routes: [JSONValue], split: TrafficSplit, workload: CanaryWorkload) -> [JSONValue] {
        var rendered: [String: JSONValue] = [:]
        for owned in routes where isCanaryRoute(owned, workload: workload) {
            let canaryEntry = owned["route"]?.arrayValue?.last { $0["destination"]?["host"]?.stringValue == workload.canaryService } ?? [:]
            let added = [VirtualServiceMatchRoute.route(ahead: owned, canaryEntry: canaryEntry, split: split)].compactMap { $0 }
                + VirtualServiceAffinityRoute.routes(ahead: owned, split: split)
            for route in added { if let name = route["name"]?.stringValue { rendered[name] = route } }
        }
        return routes.map { route in
            guard let name = route["name"]?.stringValue, split.addsRoute(named: name), let fresh = rendered[name],
                case .object(var fields) = route
            else { return route }
            for key in serviceRouteFields { fields[key] = fresh[key] }
            return .object(fields)
        }
    }
}
