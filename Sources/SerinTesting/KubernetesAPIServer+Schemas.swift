import SerinKubernetes

/// What a CustomResourceDefinition's structural schema does to writes. Serin's own kinds (`canaries`,
/// `metrictemplates`, `alertproviders` of serin.dev) are held to the CRDs in deploy/kubernetes/, as installed: every
/// field a schema does not name is pruned silently, and a value the schema refuses is a 422 naming the field. Of
/// Flagger's Canary, whose schema Serin does not own, the status: a fixed set of fields (no
/// `x-kubernetes-preserve-unknown-fields`), so any other field is pruned, and a `phase` outside its enum is a 422.
extension KubernetesAPIServer {
    /// The schemas of Serin's own kinds, by resource, from the CRDs a cluster installs.
    static let serinSchemas: [String: StructuralSchema] = {
        var schemas: [String: StructuralSchema] = [:]
        for (resource, file) in [
            ("canaries", "deploy/kubernetes/crd.yaml"), ("metrictemplates", "deploy/kubernetes/metrictemplate-crd.yaml"),
            ("alertproviders", "deploy/kubernetes/alertprovider-crd.yaml"),
        ] {
            // A CRD that cannot be read fails every test that writes its kind, naming the file.
            do { schemas[resource] = try StructuralSchema.ofCRD(file) } catch { preconditionFailure("cannot read \(file): \(error)") }
        }
        return schemas
    }()

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
        if route.groupVersion == "serin.dev/v1alpha1", let schema = serinSchemas[route.resource] {
            let pruned = schema.pruned(object)
            let problems = schema.problems(in: pruned)
            guard problems.isEmpty else {
                let kind = object["kind"]?.stringValue ?? route.resource
                return .failure(ReplyError(reply: Self.status(
                    422, "Invalid", "\(kind).serin.dev \"\(object["metadata"]?["name"]?.stringValue ?? "")\" is invalid: "
                        + problems.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }.joined(separator: ", "))))
            }
            return .success(pruned)
        }
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
