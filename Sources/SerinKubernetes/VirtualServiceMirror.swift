import SerinCore

/// Blue/green with mirroring in Istio's words (`TrafficSplit+Mirror.swift`'s rule on the raw object): while the
/// split mirrors, an owned route gets `mirror` (the canary's destination as its route entry names it) and
/// `mirrorPercentage: {value: N}`; once it does not, a mirror to the canary goes with its percentage, and a
/// mirror the user points at another host stays as written. A route that lists `mirrors` gets the canary's copy as
/// one more entry of the list instead, since Istio refuses a route with both.
enum VirtualServiceMirror {
    /// Sets or removes the Canary's mirror on an owned route's fields; true when they changed.
    static func apply(_ split: TrafficSplit, canaryEntry: JSONValue, to fields: inout [String: JSONValue]) -> Bool {
        let before = fields
        let canary = canaryEntry["destination"] ?? ["host": .string(split.canary.destination.host)]
        if let listed = fields["mirrors"]?.arrayValue, !listed.isEmpty {
            var mirrors = listed.filter { entry in
                !(entry["destination"].flatMap(VirtualServiceWeightPatch.destination(ofTarget:)).map(split.isCanarysMirror) ?? false)
            }
            if let share = split.mirror { mirrors.append(["destination": canary, "percentage": ["value": .number(share.value)]]) }
            fields["mirrors"] = .array(mirrors)
        } else if let share = split.mirror {
            fields["mirror"] = canary
            fields["mirrorPercentage"] = ["value": .number(share.value)]
        } else if let current = fields["mirror"].flatMap(VirtualServiceWeightPatch.destination(ofTarget:)),
            split.isCanarysMirror(current)
        {
            fields["mirror"] = nil
            fields["mirrorPercentage"] = nil
        }
        return fields != before
    }
}
