import SerinCore

extension WorkloadObjects {
    /// Brings an object Serin created for the Canary in line with what its `spec.service` asks now, as Flagger does
    /// on every reconcile: the fields Serin writes from `spec.service` are set, everything else stays as stored.
    /// Services get their `ports` and `selector`. The VirtualService gets `hosts` and `gateways`, its Canary route
    /// (the unnamed one to the primary) `match`, `retries`, `timeout` and `headers`, and every destination and
    /// mirror to the primary or canary Service the new port, while each route keeps its weights, its mirror and
    /// the routes a release adds (A/B, affinity). The primary Deployment and its autoscaler belong to the release
    /// and are left alone. Returns whether anything changed: an object already in line is not written.
    static func align(_ fields: inout [String: JSONValue], with desired: Desired, workload: CanaryWorkload) -> Bool {
        let before = fields
        var spec = fields["spec"]?.objectValue ?? [:]
        let wanted = desired.object["spec"]
        switch desired.object["kind"]?.stringValue {
        case "Service":
            spec["ports"] = wanted?["ports"]
            spec["selector"] = wanted?["selector"]
        case "VirtualService":
            spec["hosts"] = wanted?["hosts"]
            spec["gateways"] = wanted?["gateways"]
            if let routes = spec["http"]?.arrayValue {
                let canaryRoute = wanted?["http"]?[0]
                spec["http"] = .array(routes.map { aligned($0, like: canaryRoute, workload: workload) })
            }
        default:
            return false
        }
        fields["spec"] = .object(spec)
        return fields != before
    }

    /// The fields of `spec.service` a Canary route carries (`desired` writes them; absent ones are removed).
    static let serviceRouteFields = ["match", "retries", "timeout", "headers"]

    /// One HTTP route of the VirtualService: destinations to the workload's Services on the new port and, for the
    /// Canary's own route, the route fields of `canaryRoute`.
    private static func aligned(_ route: JSONValue, like canaryRoute: JSONValue?, workload: CanaryWorkload) -> JSONValue {
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
        let isCanaryRoute = fields["name"] == nil && entries.contains { $0["destination"]?["host"]?.stringValue == workload.primaryService }
        if isCanaryRoute {
            for key in serviceRouteFields { fields[key] = canaryRoute?[key] }
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
}
