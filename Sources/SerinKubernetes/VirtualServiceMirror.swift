import SerinCore

/// Blue/green with mirroring in Istio's words (`TrafficSplit+Mirror.swift`'s rule on the raw object): while the
/// split mirrors, an owned route gets `mirror` (the canary's destination as its route entry names it) and
/// `mirrorPercentage: {value: N}`; once it does not, a mirror to the canary goes with its percentage, and a
/// mirror the user points at another host stays as written.
enum VirtualServiceMirror {
    /// Sets or removes the Canary's mirror on an owned route's fields; true when they changed.
    static func apply(_ split: TrafficSplit, canaryEntry: JSONValue, to fields: inout [String: JSONValue]) -> Bool {
        let before = fields
        if let share = split.mirror {
            fields["mirror"] = canaryEntry["destination"] ?? ["host": .string(split.canary.destination.host)]
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
