import SerinCore

extension ManifestDecoder {
    /// Pod spec fields Serin reads nothing from but that are valid Kubernetes: accepted without a word.
    static let podSpecFields: Set<String> = [
        "initContainers", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
        "activeDeadlineSeconds", "dnsPolicy", "dnsConfig", "nodeSelector", "nodeName", "serviceAccountName",
        "serviceAccount", "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "hostUsers",
        "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity",
        "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "readinessGates",
        "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
        "setHostnameAsFQDN", "os", "schedulingGates", "resourceClaims", "resources", "volumes",
    ]

    /// Container fields Serin reads nothing from.
    static let containerFields: Set<String> = [
        "command", "args", "workingDir", "envFrom", "env", "resources", "resizePolicy", "restartPolicy",
        "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
        "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin",
        "stdinOnce", "tty",
    ]

    static func deployment(_ spec: Field, name: ResourceName, legacy: Bool, reader: DocumentReader) -> Deployment? {
        let schema = Schema(
            known: ["replicas", "selector", "template"],
            ignored: ["strategy", "minReadySeconds", "revisionHistoryLimit", "paused", "progressDeadlineSeconds", "rollbackTo"]
        )
        guard let fields = reader.mapping(spec, schema),
            let templateField = reader.required("template", in: fields),
            let template = reader.mapping(templateField, Schema(known: ["metadata", "spec"])),
            let podSpecField = reader.required("spec", in: template),
            let podSpec = reader.mapping(podSpecField, Schema(known: ["containers"], ignored: podSpecFields)),
            let containersField = reader.required("containers", in: podSpec),
            let containerEntries = reader.list(containersField)
        else { return nil }
        var labels: [String: String] = [:]
        if let metadataField = template["metadata"],
            let metadata = reader.mapping(metadataField, Schema(known: ["labels"], ignored: ["annotations", "name", "namespace"]))
        {
            labels = metadata["labels"].flatMap(reader.stringMap) ?? [:]
        }
        // apps/v1 requires a selector; the legacy APIs defaulted it to the template's labels.
        var selector = labels
        if let selectorField = fields["selector"] {
            guard let value = labelSelector(selectorField, reader: reader) else { return nil }
            selector = value
            if !selector.allSatisfy({ labels[$0.key] == $0.value }) {
                reader.error("\(selectorField.path) does not match the labels of spec.template.metadata.labels", at: selectorField.node)
            }
        } else if !legacy {
            reader.error("spec.selector is required", at: spec.node)
        }
        let containers = containerEntries.compactMap { container($0, reader: reader) }
        guard containers.count == containerEntries.count else { return nil }
        let replicas = fields["replicas"].flatMap(reader.int) ?? 1
        return Deployment(name: name, replicas: replicas, selector: selector, templateLabels: labels, containers: containers)
    }

    private static func labelSelector(_ field: Field, reader: DocumentReader) -> [String: String]? {
        guard let fields = reader.mapping(field, Schema(known: ["matchLabels", "matchExpressions"])) else { return nil }
        if let expressions = fields["matchExpressions"] {
            reader.warning("\(expressions.path) is not read by Serin; only matchLabels are", at: expressions.node)
        }
        return fields["matchLabels"].flatMap(reader.stringMap) ?? [:]
    }

    private static func container(_ field: Field, reader: DocumentReader) -> Deployment.Container? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "image", "ports"], ignored: containerFields)),
            let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField),
            let imageField = reader.required("image", in: fields),
            let image = reader.string(imageField)
        else { return nil }
        var ports: [Deployment.Port] = []
        if let portsField = fields["ports"], let entries = reader.list(portsField) {
            ports = entries.compactMap { containerPort($0, reader: reader) }
        }
        return Deployment.Container(name: name, image: image, ports: ports)
    }

    private static func containerPort(_ field: Field, reader: DocumentReader) -> Deployment.Port? {
        let schema = Schema(known: ["containerPort", "name", "protocol"], ignored: ["hostPort", "hostIP"])
        guard let fields = reader.mapping(field, schema),
            let numberField = reader.required("containerPort", in: fields),
            let number = reader.port(numberField)
        else { return nil }
        return Deployment.Port(
            containerPort: number, name: fields["name"].flatMap(reader.string),
            protocol: fields["protocol"].flatMap(reader.string) ?? "TCP"
        )
    }
}
