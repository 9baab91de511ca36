import SerinCore

extension ManifestDecoder {
    /// Serin's Canary (`serin.dev/v1alpha1`): field names follow Flagger's Canary where the idea is the same.
    /// Flagger fields Serin has no use for (`service`, `provider`, `autoscalerRef`...) are warned about as unknown.
    static func canary(_ spec: Field, name: ResourceName, reader: DocumentReader) -> CanarySpec? {
        let schema = Schema(
            known: [
                "targetRef", "stable", "canary", "progressDeadlineSeconds", "progressDeadline", "skipAnalysis", "analysis",
                "canaryDeployment",
            ]
        )
        guard let fields = reader.mapping(spec, schema) else { return nil }
        // Every part is read before any is given up on, so one pass reports every problem.
        let targetRef = reader.required("targetRef", in: fields).flatMap {
            canaryTarget($0, namespace: name.namespace, reader: reader)
        }
        let stable = fields["stable"].flatMap { rolloutDestination($0, reader: reader) }
        let canary = reader.required("canary", in: fields).flatMap { rolloutDestination($0, reader: reader) }
        let progressDeadline = progressDeadline(in: fields, reader: reader)
        let skipAnalysis = fields["skipAnalysis"].flatMap(reader.bool)
        let canaryDeployment = fields["canaryDeployment"].flatMap(reader.string)
        let analysis = reader.required("analysis", in: fields).flatMap {
            self.analysis($0, namespace: name.namespace, reader: reader)
        }
        guard let targetRef, let canary, var analysis, !reader.isMalformed else { return nil }
        if let progressDeadline { analysis.progressDeadline = progressDeadline }
        let decoded = CanarySpec(
            name: name, targetRef: targetRef, stable: stable, canary: canary, analysis: analysis,
            skipAnalysis: skipAnalysis ?? false, canaryDeployment: canaryDeployment
        )
        let deadlineKey = fields["progressDeadline"] == nil ? "progressDeadlineSeconds" : "progressDeadline"
        for problem in decoded.problems {
            // Core names fields inside `spec` by its own model; only the deadline lives elsewhere in the YAML.
            let path = spec.path(of: problem.field == "analysis.progressDeadline" ? deadlineKey : problem.field)
            reader.error("\(path): \(problem.message)", atPath: path, fallback: spec.node)
        }
        return decoded
    }

    /// `targetRef`: the VirtualService whose weights the rollout drives, `namespace/name` or a name in the
    /// Canary's namespace. Flagger points it at a Deployment; Serin owns routes, not workloads.
    private static func canaryTarget(_ field: Field, namespace: String, reader: DocumentReader) -> ResourceName? {
        guard let fields = reader.mapping(field, Schema(known: ["apiVersion", "kind", "name"])) else { return nil }
        let target = ResourceKind.virtualService
        if let kindField = fields["kind"], let kind = reader.string(kindField), kind != target.rawValue {
            reader.error(
                "\(kindField.path): expected \(target.rawValue) (Serin drives the weights of its routes), got \"\(kind)\"",
                at: kindField.node
            )
        }
        if let versionField = fields["apiVersion"], let version = reader.string(versionField),
            !target.accepts(apiVersion: version)
        {
            let versions = target.currentAPIVersions.joined(separator: ", ")
            reader.error("\(versionField.path): expected one of \(versions), got \"\(version)\"", at: versionField.node)
        }
        guard let nameField = reader.required("name", in: fields), let reference = reader.string(nameField) else {
            return nil
        }
        guard !reference.isEmpty else {
            reader.error("\(nameField.path) must not be empty", at: nameField.node)
            return nil
        }
        return ResourceName(reference: reference, relativeTo: namespace)
    }

    /// `stable` and `canary`: a host with an optional subset and port (a plain number, unlike a route's `port.number`).
    private static func rolloutDestination(_ field: Field, reader: DocumentReader) -> Destination? {
        guard let fields = reader.mapping(field, Schema(known: ["host", "subset", "port"])) else { return nil }
        let host = reader.required("host", in: fields).flatMap(reader.string)
        let subset = fields["subset"].flatMap(reader.string)
        let port = fields["port"].flatMap(reader.port)
        guard let host else { return nil }
        return Destination(host: host, subset: subset, port: port)
    }

    /// Flagger's `progressDeadlineSeconds`, or Serin's `progressDeadline` duration; nil when neither is written.
    private static func progressDeadline(in fields: Fields, reader: DocumentReader) -> Duration? {
        switch (fields["progressDeadlineSeconds"], fields["progressDeadline"]) {
        case (.some, .some(let written)):
            reader.error(
                "\(written.path) cannot be combined with progressDeadlineSeconds: set one of them", at: written.node
            )
            return nil
        case (.some(let seconds), nil):
            return reader.int(seconds).map { .seconds($0) }
        case (nil, .some(let written)):
            return reader.duration(written)
        case (nil, nil):
            return nil
        }
    }
}
