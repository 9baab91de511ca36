import SerinKubernetes

/// What a CustomResourceDefinition's structural schema does to writes, for the CRDs whose schema Serin does not
/// own: Flagger's Canary. Its status has a fixed set of fields (no `x-kubernetes-preserve-unknown-fields`), so
/// the API server prunes any other field silently, and refuses a `phase` outside its enum with a 422.
extension KubernetesAPIServer {
    /// The status fields of `canaries.flagger.app` (Flagger's crd.yaml), and of each of its conditions.
    static let flaggerStatusFields: Set<String> = [
        "phase", "failedChecks", "canaryWeight", "iterations", "trackedConfigs", "lastAppliedSpec", "lastPromotedSpec",
        "lastTrackedRevision", "lastTransitionTime", "sessionAffinityCookie", "primarySessionAffinityCookie",
        "previousSessionAffinityCookie", "conditions",
    ]
    static let flaggerConditionFields: Set<String> = ["lastTransitionTime", "lastUpdateTime", "message", "reason", "status", "type"]
    static let flaggerPhases: Set<String> = [
        "", "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting", "Finalising", "Succeeded",
        "Failed", "Terminating", "Terminated",
    ]

    /// The object as the schema admits it: pruned, or a 422 that names the field.
    static func admitted(_ object: JSONValue, at route: Route) -> Result<JSONValue, ReplyError> {
        guard route.groupVersion == "flagger.app/v1beta1", route.resource == "canaries", case .object(var fields) = object,
            case .object(var status)? = fields["status"]
        else { return .success(object) }
        status = status.filter { flaggerStatusFields.contains($0.key) }
        if let conditions = status["conditions"]?.arrayValue {
            status["conditions"] = .array(conditions.map { .object(($0.objectValue ?? [:]).filter { flaggerConditionFields.contains($0.key) }) })
        }
        if let phase = status["phase"], !(phase.stringValue.map(flaggerPhases.contains) ?? false) {
            let allowed = flaggerPhases.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            return .failure(ReplyError(reply: Self.status(
                422, "Invalid", "Canary.flagger.app \"\(fields["metadata"]?["name"]?.stringValue ?? "")\" is invalid: "
                    + "status.phase: Unsupported value: \(phase): supported values: \(allowed)")))
        }
        fields["status"] = .object(status)
        return .success(.object(fields))
    }

    /// A refusal on its way back to the client.
    struct ReplyError: Error {
        let reply: Reply
    }
}
