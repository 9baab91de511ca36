import SerinCore

/// The change that moves a rollout's weights in a VirtualService as Kubernetes stores it, computed on the raw
/// object: only the HTTP routes that send to the Canary's stable destination are Serin's, and in them only the
/// destinations and weights change. Every other route, field and annotation stays byte for byte as the user
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

    /// The operations that give every route sending to `stable.destination` exactly two destinations, stable
    /// and canary, with their weights. Empty when the weights are already so. A route's destination entries
    /// keep their other fields (`headers`...), and a destination without a port keeps the port the route had.
    public static func operations(
        for virtualService: JSONValue, stable: WeightedDestination, canary: WeightedDestination
    ) throws -> [JSONPatchOperation] {
        let name = virtualService["metadata"]?["name"]?.stringValue ?? "(unnamed)"
        guard let routes = virtualService["spec"]?["http"]?.arrayValue else {
            throw Failure.notAVirtualService("\(name) has no spec.http list")
        }
        var operations: [JSONPatchOperation] = []
        var owned = 0
        for (routeIndex, route) in routes.enumerated() {
            guard let entries = route["route"]?.arrayValue,
                let stableIndex = entries.firstIndex(where: { Self.destination(of: $0)?.sameService(as: stable.destination) == true })
            else { continue }
            owned += 1
            let path: JSONPointer = ["spec", "http", String(routeIndex), "route"]
            let current = entries[stableIndex]
            let canaryIndex = entries.firstIndex { Self.destination(of: $0)?.sameService(as: canary.destination) == true }
            let wanted: [JSONValue] = [
                Self.entry(for: stable, keeping: current, portFrom: current),
                Self.entry(for: canary, keeping: canaryIndex.map { entries[$0] } ?? [:], portFrom: current),
            ]
            guard wanted != entries else { continue }
            operations.append(.test(path: path, value: .array(entries)))
            operations.append(.replace(path: path, value: .array(wanted)))
        }
        guard owned > 0 else {
            throw Failure.noRouteToStable(virtualService: name, host: stable.destination.description)
        }
        return operations
    }

    /// The destination a route entry sends to: `{destination: {host, subset, port: {number}}}`.
    static func destination(of entry: JSONValue) -> Destination? {
        guard let destination = entry["destination"], let host = destination["host"]?.stringValue else { return nil }
        return Destination(host: host, subset: destination["subset"]?.stringValue, port: destination["port"]?["number"]?.intValue)
    }

    /// `entry` (the route's own entry for this destination, or empty) pointing at `weighted` with its weight.
    private static func entry(for weighted: WeightedDestination, keeping entry: JSONValue, portFrom route: JSONValue) -> JSONValue {
        guard case .object(var fields) = entry else { return entry }
        var destination: [String: JSONValue] = ["host": .string(weighted.destination.host)]
        if case .object(let existing)? = fields["destination"] {
            destination = existing
            destination["host"] = .string(weighted.destination.host)
        }
        if let subset = weighted.destination.subset { destination["subset"] = .string(subset) }
        if let port = weighted.destination.port {
            destination["port"] = ["number": .number(Double(port))]
        } else if destination["port"] == nil, let port = route["destination"]?["port"] {
            destination["port"] = port
        }
        fields["destination"] = .object(destination)
        fields["weight"] = .number(Double(weighted.weight))
        return .object(fields)
    }
}
