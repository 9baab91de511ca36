import SerinCore

/// A/B testing's route as Kubernetes stores it: `TrafficSplit.matchRoute(ahead:)` rendered on the raw object. A
/// copy of the owned route named `split.matchRouteName`, matching the Canary's matches within the route's own
/// (as `RequestMatch.narrowed(to:)` does) and sending everything to the canary.
enum VirtualServiceMatchRoute {
    /// The A/B route ahead of `owned`, whose canary entry is `canaryEntry`; nil when the split has none.
    static func route(ahead owned: JSONValue, canaryEntry: JSONValue, split: TrafficSplit) -> JSONValue? {
        guard !split.canaryMatch.isEmpty, let name = split.matchRouteName, case .object(var fields) = owned else { return nil }
        let own = owned["match"]?.arrayValue ?? []
        let scopes: [JSONValue] = own.isEmpty ? [[:]] : own
        fields["name"] = .string(name)
        fields["match"] = .array(scopes.flatMap { scope in split.canaryMatch.map { narrowed(json($0), to: scope) } })
        var entry = canaryEntry.objectValue ?? [:]
        entry["weight"] = 100
        fields["route"] = [.object(entry)]
        return .object(fields)
    }

    /// `match` limited to what `scope` admits: every condition of both, the Canary's where both set one.
    static func narrowed(_ match: JSONValue, to scope: JSONValue) -> JSONValue {
        var result = scope.objectValue ?? [:]
        for (key, value) in match.objectValue ?? [:] {
            switch key {
            case "name":
                continue
            case "headers", "withoutHeaders", "queryParams":
                result[key] = .object((result[key]?.objectValue ?? [:]).merging(value.objectValue ?? [:]) { _, mine in mine })
            case "ignoreUriCase":
                result[key] = .bool(result[key] == .bool(true) || value == .bool(true))
            case "gateways" where !(result[key]?.arrayValue ?? []).isEmpty:
                continue
            default:
                result[key] = value
            }
        }
        return .object(result)
    }

    /// A request match in Istio's words.
    static func json(_ match: RequestMatch) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        if let name = match.name { fields["name"] = .string(name) }
        for (key, value) in [("uri", match.uri), ("scheme", match.scheme), ("method", match.method), ("authority", match.authority)] {
            if let value { fields[key] = json(value) }
        }
        for (key, map) in [("headers", match.headers), ("withoutHeaders", match.withoutHeaders), ("queryParams", match.queryParams)]
        where !map.isEmpty {
            fields[key] = .object(map.mapValues(json))
        }
        if match.ignoreUriCase { fields["ignoreUriCase"] = true }
        if !match.gateways.isEmpty { fields["gateways"] = .array(match.gateways.map { .string($0.description) }) }
        if let port = match.port { fields["port"] = .number(Double(port)) }
        return .object(fields)
    }

    static func json(_ match: StringMatch) -> JSONValue {
        switch match {
        case .exact(let value): ["exact": .string(value)]
        case .prefix(let value): ["prefix": .string(value)]
        case .regex(let pattern): ["regex": .string(pattern.source)]
        case .present: [:]
        }
    }
}
