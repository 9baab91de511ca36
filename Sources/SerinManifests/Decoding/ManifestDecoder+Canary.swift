import SerinCore
import Yams

extension ManifestDecoder {
    /// Serin's Canary (`serin.dev/v1alpha1`), and Flagger's (`flagger.app/v1beta1`) read unchanged: field names
    /// follow Flagger's where the idea is the same. `targetRef` is a VirtualService (two destinations Serin moves
    /// weight between) or a Deployment (Flagger's shape: Serin creates the primary, Services and VirtualService).
    /// `flagger`: a `flagger.app` Canary, whose analysis takes Flagger's defaults where they differ from Serin's.
    static func canary(_ spec: Field, name: ResourceName, flagger: Bool = false, reader: DocumentReader) -> CanarySpec? {
        guard let fields = reader.mapping(spec, canarySchema) else { return nil }
        // Every part is read before any is given up on, so one pass reports every problem.
        let target = reader.required("targetRef", in: fields).flatMap {
            canaryTarget($0, namespace: name.namespace, reader: reader)
        }
        var stable = fields["stable"].flatMap { rolloutDestination($0, reader: reader) }
        var canary = fields["canary"].flatMap { rolloutDestination($0, reader: reader) }
        let progressDeadline = progressDeadline(in: fields, reader: reader)
        let skipAnalysis = fields["skipAnalysis"].flatMap(reader.bool)
        var canaryDeployment = fields["canaryDeployment"].flatMap(reader.string)
        // Flagger's `suspend`: true holds the Canary where it is (see `Rollout+Suspension`).
        let suspend = fields["suspend"].flatMap(reader.bool)
        // Flagger's `revertOnDeletion`: serin controller reads it from the Canary object (`RevertOnDeletion`); here it
        // is only checked to be a boolean.
        _ = fields["revertOnDeletion"].flatMap(reader.bool)
        if let provider = fields["provider"], let value = reader.string(provider), value != "istio" {
            reader.error("\(provider.path): expected istio (Serin routes through Istio's VirtualService), got \"\(value)\"", at: provider.node)
        }
        let analysis = reader.required("analysis", in: fields).flatMap {
            self.analysis($0, namespace: name.namespace, flagger: flagger, reader: reader)
        }
        var targetRef: ResourceName?
        var workload: CanaryWorkload?
        var tcp: TCPCanaryTraffic?
        switch target {
        case .virtualService(let reference)?:
            targetRef = reference
            if canary == nil { _ = reader.required("canary", in: fields) }
            for key in ["service", "autoscalerRef"] {
                if let field = fields[key] {
                    reader.error("\(field.path) is only for a targetRef of kind Deployment, where Serin creates the Services", at: field.node)
                }
            }
            // Flagger's readiness thresholds are of Deployments: on a VirtualService only canaryDeployment names one.
            reader.warning(
                "\(spec.path(of: "analysis.primaryReadyThreshold")) is not applied: it is the primary Deployment's, which only a targetRef "
                    + "of kind Deployment has", atWritten: spec.path(of: "analysis.primaryReadyThreshold"))
            if fields["canaryDeployment"] == nil {
                reader.warning(
                    "\(spec.path(of: "analysis.canaryReadyThreshold")) is not applied: this Canary names no canaryDeployment whose "
                        + "readiness it waits for", atWritten: spec.path(of: "analysis.canaryReadyThreshold"))
            }
        case .deployment(let deployment)?:
            // Flagger's shape: Serin creates the Services SERVICE-primary, SERVICE-canary and the VirtualService SERVICE
            // (`service.name`, the Deployment's name unless written), and routes between them.
            for key in ["stable", "canary", "canaryDeployment"] {
                if let field = fields[key] {
                    reader.error("\(field.path) is not used with a targetRef of kind Deployment: Serin routes between the Services it creates, \(deployment)-primary and \(deployment)-canary (named after service.name when written)", at: field.node)
                }
            }
            let service = reader.required("service", in: fields).flatMap { workloadService($0, reader: reader) }
            let autoscaler = fields["autoscalerRef"].flatMap { autoscalerTarget($0, reader: reader) }
            if let (port, serviceName, tcpTraffic) = service {
                tcp = tcpTraffic
                let found = CanaryWorkload(deployment: deployment, port: port, autoscaler: autoscaler, service: serviceName)
                workload = found
                targetRef = ResourceName(namespace: name.namespace, name: found.apexService)
                stable = Destination(host: found.primaryService, port: port)
                canary = Destination(host: found.canaryService, port: port)
                canaryDeployment = deployment
            }
        case nil:
            break
        }
        // Flagger's `metricsServer`: the Prometheus this Canary's built-in metrics read, over the controller's default.
        let metricsServer = fields["metricsServer"].flatMap { prometheusAddress($0, reader: reader) }
        guard let targetRef, let canary, var analysis else { return nil }
        if let metricsServer {
            for index in analysis.metrics.indices where analysis.metrics[index].provider == nil {
                // A custom metric runs on its MetricTemplate's provider.
                if case .custom = analysis.metrics[index].kind { continue }
                analysis.metrics[index].provider = .prometheus(address: metricsServer)
            }
        }
        if let tcp {
            // Flagger's TCP canary: what acts on requests is refused, where Flagger drops it without a word.
            let metricsWritten = reader.fieldLocations[spec.path(of: "analysis.metrics")] != nil
            for problem in tcp.problems(of: analysis, metricsWritten: metricsWritten) {
                reader.error(problem.message, atPath: problem.path, fallback: spec.node)
            }
        }
        // A Canary already malformed is still checked below, so one pass says every problem (a metric-name typo and
        // a threshold of 0 together), but it is not produced.
        let malformed = reader.isMalformed
        if fields["progressDeadline"] != nil {
            // Serin's own field is counted as written, from the rollout's last progress.
            if let progressDeadline { analysis.progressDeadline = progressDeadline }
        } else {
            // Flagger's field, written or at Flagger's default: the time to make progress, as in Flagger, where it
            // is the Deployments'. Serin counts it from the rollout's last step, so an analysis interval is added: a
            // Flagger Canary's values (60 with a 1m interval) mean what they meant there.
            analysis.progressDeadline = (progressDeadline ?? Self.flaggerProgressDeadline) + analysis.interval
        }
        let decoded = CanarySpec(
            name: name, targetRef: targetRef, stable: stable, canary: canary, analysis: analysis,
            skipAnalysis: skipAnalysis ?? false, canaryDeployment: canaryDeployment, workload: workload, suspend: suspend ?? false
        )
        let deadlineKey = fields["progressDeadline"] == nil ? "progressDeadlineSeconds" : "progressDeadline"
        for problem in decoded.problems {
            // Core names fields inside `spec` by its own model; only the deadline lives elsewhere in the YAML.
            let path = spec.path(of: problem.field == "analysis.progressDeadline" ? deadlineKey : problem.field)
            // A field the decoder already found wrong is said once, and not compared with another: its default stood in.
            let involved = [path] + problem.comparedWith.map { spec.path(of: $0) }
            if malformed, reader.diagnostics.contains(where: { diagnostic in
                involved.contains { diagnostic.message.hasPrefix("\($0):") || diagnostic.message.hasPrefix("\($0) ") }
            }) {
                continue
            }
            reader.error("\(path) \(problem.message)", atPath: path, fallback: spec.node)
        }
        return malformed ? nil : decoded
    }

    /// A Canary's `spec` fields.
    private static let canarySchema = Schema(
        known: [
            "targetRef", "stable", "canary", "progressDeadlineSeconds", "progressDeadline", "skipAnalysis", "analysis",
            "canaryDeployment", "service", "autoscalerRef", "provider", "revertOnDeletion", "suspend", "metricsServer",
        ],
        notRead: ["canaryAnalysis": "it is Flagger's v1alpha3 name for analysis; write it as analysis, as flagger.app/v1beta1 does"]
    )

    /// What a Canary that was not read for its errors names of the other resources, read again on its own (`reader` is
    /// a fresh one): its `targetRef` when that names a VirtualService and reads without error, with each of `stable`
    /// and `canary` that reads without error and names a host. The errors were said by the first reading.
    static func canaryReferences(_ spec: Field, name: ResourceName, document: SourceLocation, reader: DocumentReader) -> CanaryReferences? {
        reader.readingStrictly {
            guard let fields = reader.mapping(spec, canarySchema),
                case .virtualService(let targetRef)? = reader.withoutError({
                    fields["targetRef"].flatMap { canaryTarget($0, namespace: name.namespace, reader: reader) }
                })
            else { return nil }
            func destination(_ key: String) -> Destination? {
                reader.withoutError { fields[key].flatMap { rolloutDestination($0, reader: reader) } }.flatMap { $0.host.isEmpty ? nil : $0 }
            }
            return CanaryReferences(
                name: name, targetRef: targetRef, stable: destination("stable"), canary: destination("canary"), location: document,
                fieldLocations: reader.fieldLocations)
        }
    }

    /// What a Canary's `targetRef` names: the VirtualService whose weights Serin drives (Serin's shape), or the
    /// Deployment people change (Flagger's shape).
    enum CanaryTargetRef {
        case virtualService(ResourceName)
        case deployment(String)
    }

    /// Flagger's `service` block: the port the generated Services and VirtualService use. `targetPort`,
    /// `portName`, `appProtocol`, `trafficDistribution`, `headless`, `hosts`, `gateways`, `match`, `retries`, `timeout`,
    /// `headers`, `rewrite`, `corsPolicy`, `trafficPolicy` and the `apex`, `primary` and `canary` labels and annotations
    /// are copied as written into the objects Serin creates on Kubernetes; `unmanagedMetadata` names the label and
    /// annotation keys whose stored values Serin keeps. `backendTimeout` is taken with a warning: Flagger's Istio
    /// router ignores it.
    /// `service`: its port, `service.name` when written (a Service name, as Kubernetes names them), and for
    /// `appProtocol: tcp` why the Canary sees no requests.
    private static func workloadService(
        _ field: Field, reader: DocumentReader
    ) -> (port: Int, name: String?, tcp: TCPCanaryTraffic?)? {
        let schema = Schema(
            known: [
                "port", "targetPort", "portName", "name", "hosts", "gateways", "match", "retries", "timeout", "headers", "portDiscovery",
                "trafficPolicy", "rewrite", "corsPolicy", "appProtocol", "apex", "primary", "canary", "headless", "trafficDistribution",
                "unmanagedMetadata", "backendTimeout", "delegation",
            ]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        // Flagger's `delegation`: the VirtualService is written as a delegate, which has no hosts or gateways.
        if let delegation = fields["delegation"], reader.bool(delegation) == true {
            for key in ["hosts", "gateways"] where fields[key].flatMap(reader.list)?.isEmpty == false {
                reader.error(
                    "\(delegation.path): a delegate VirtualService has no hosts or gateways, so service.\(key) cannot be written beside it "
                        + "(Flagger refuses both); the root VirtualService that names it in delegate has them",
                    at: delegation.node)
            }
        }
        if let discovery = fields["portDiscovery"] { _ = reader.bool(discovery) }
        // Flagger names the Services and VirtualService after `service.name`: it becomes a Service's name, and
        // `NAME-primary` and `NAME-canary` too, so it must be a DNS label of 55 characters at most.
        var serviceName: String?
        if let nameField = fields["name"] {
            guard let written = reader.string(nameField) else { return nil }
            guard isServiceName(written) else {
                reader.error(
                    "\(nameField.path) is \"\(written)\", expected a Service name: lower-case letters, digits and '-', starting with a "
                        + "letter and ending with a letter or digit, at most 55 characters (\(written)-primary must be a Service name too)",
                    at: nameField.node)
                return nil
            }
            serviceName = written
        }
        if let policy = fields["trafficPolicy"] { serviceTrafficPolicy(policy, reader: reader) }
        if let rewrite = fields["rewrite"] { _ = reader.mapping(rewrite, Schema(known: ["uri", "authority"], ignored: ["type"])) }
        if let cors = fields["corsPolicy"] { _ = corsPolicy(cors, reader: reader) }
        let tcp = fields["appProtocol"].flatMap { appProtocol in
            reader.string(appProtocol)?.lowercased() == "tcp" ? tcpCanaryTraffic(appProtocol) : nil
        }
        for key in ["apex", "primary", "canary"] {
            guard let block = fields[key], let metadata = reader.mapping(block, Schema(known: ["labels", "annotations"])) else { continue }
            for entry in ["labels", "annotations"] { _ = metadata[entry].flatMap(reader.stringMap) }
        }
        for key in ["hosts", "gateways"] { _ = fields[key].flatMap(reader.stringList) }
        if let timeout = fields["timeout"] { _ = reader.duration(timeout) }
        serviceKubernetesFields(fields, reader: reader)
        let matches = fields["match"].flatMap { reader.list($0) }
        if let tcp { tcpService(fields, matches: matches ?? [], traffic: tcp, reader: reader) }
        for key in ["retries", "headers"] {
            if let value = fields[key] { _ = reader.mapping(value, Schema(known: [], ignored: ["attempts", "perTryTimeout", "retryOn", "request", "response"])) }
        }
        return reader.required("port", in: fields).flatMap(reader.port).map { ($0, serviceName, tcp) }
    }

    /// The values Kubernetes takes for a Service's `spec.trafficDistribution`, as Flagger's CRD lists them.
    static let trafficDistributions = ["PreferClose", "PreferSameZone", "PreferSameNode"]

    /// Flagger's `service.headless`, `trafficDistribution`, `unmanagedMetadata` and `backendTimeout`, checked: the
    /// first three shape the Services (and the metadata Serin keeps); `backendTimeout` is Flagger's Gateway API
    /// provider's alone, so it is taken with a warning saying nothing acts on it.
    private static func serviceKubernetesFields(_ fields: Fields, reader: DocumentReader) {
        _ = fields["headless"].flatMap(reader.bool)
        if let field = fields["trafficDistribution"], let value = reader.string(field), !trafficDistributions.contains(value) {
            reader.error(
                "\(field.path): expected one of \(trafficDistributions.joined(separator: ", ")) (a Service's trafficDistribution), got \"\(value)\"",
                at: field.node)
        }
        if let field = fields["unmanagedMetadata"], let keys = reader.mapping(field, Schema(known: ["labels", "annotations"])) {
            for entry in ["labels", "annotations"] { _ = keys[entry].flatMap(reader.stringList) }
        }
        if let field = fields["backendTimeout"], reader.duration(field) != nil {
            reader.warning(
                "\(field.path) is the timeout of Flagger's Gateway API provider (an HTTPRoute's backendRequest); Flagger's Istio "
                    + "router ignores it, and so does Serin, which routes through Istio's VirtualService: service.timeout bounds its requests",
                at: field.node)
        }
    }

    /// Flagger's `service.appProtocol: tcp` (any case): the VirtualService Serin writes routes the port's connections
    /// with one tcp route, as Flagger's does, so the Canary sees no requests.
    private static func tcpCanaryTraffic(_ appProtocol: Field) -> TCPCanaryTraffic {
        TCPCanaryTraffic(routes: "\(appProtocol.path) is tcp, so the VirtualService Serin writes has a tcp route")
    }

    /// The `service` fields of a tcp Canary that its tcp route cannot carry, refused where Flagger drops them without a
    /// word: `rewrite`, `retries`, `timeout`, `headers` and `corsPolicy` act on requests, and a `match` entry's one
    /// condition a tcp route keeps is its `port` (one L4 match per entry, as Flagger writes it).
    private static func tcpService(_ fields: Fields, matches: [Field], traffic: TCPCanaryTraffic, reader: DocumentReader) {
        for key in ["rewrite", "retries", "timeout", "headers", "corsPolicy"] {
            if let field = fields[key] { reader.error(traffic.actsOnRequests(field.path), at: field.node) }
        }
        for entry in matches {
            guard case .mapping(let conditions) = entry.node else {
                reader.error("\(entry.path): expected a mapping with a port, got \(entry.node.valueDescription)", at: entry.node)
                continue
            }
            guard let port = conditions["port"] else {
                reader.error(
                    "\(entry.path): expected a port, the one condition of a tcp route's match (\(traffic.routes)); "
                        + "an entry without one would match every connection",
                    at: entry.node)
                continue
            }
            _ = reader.port(entry.child("port", port))
            for (key, value) in conditions {
                guard let name = key.string, name != "port" else { continue }
                reader.error(
                    "\(entry.path(of: name)): expected only port in a match entry, got \(name): \(traffic.routes), "
                        + "which matches connections by port alone (Flagger drops the rest)",
                    at: value)
            }
        }
    }

    /// A Service name (an RFC 1035 label: a label that starts with a letter) that stays one with `-primary` or
    /// `-canary` after it: 63 - 8 characters, 55.
    private static func isServiceName(_ name: String) -> Bool {
        name.utf8.count <= 55 && ResourceName.isLabel(name) && name.utf8.first.map { (0x61...0x7A).contains($0) } == true
    }

    /// `autoscalerRef`: a HorizontalPodAutoscaler in the Canary's namespace. `autoscaling/v2beta2`, which Flagger's older
    /// docs write, names the same object: the API server serves every HorizontalPodAutoscaler as autoscaling/v2 too
    /// (v2beta2 is v2 before its graduation, field for field), and Serin reads and writes them there.
    private static let autoscalerVersions = ["autoscaling/v2", "autoscaling/v2beta2"]

    private static func autoscalerTarget(_ field: Field, reader: DocumentReader) -> String? {
        guard let fields = reader.mapping(field, Schema(known: ["apiVersion", "kind", "name"])) else { return nil }
        if let kindField = fields["kind"], let kind = reader.string(kindField), kind != "HorizontalPodAutoscaler" {
            reader.error("\(kindField.path): expected HorizontalPodAutoscaler, got \"\(kind)\"", at: kindField.node)
        }
        if let versionField = fields["apiVersion"], let version = reader.string(versionField), !autoscalerVersions.contains(version) {
            reader.error(
                "\(versionField.path): expected \(autoscalerVersions.joined(separator: " or ")), got \"\(version)\"", at: versionField.node
            )
        }
        return reader.required("name", in: fields).flatMap(reader.string)
    }

    /// `targetRef`: the VirtualService whose weights the rollout drives (`namespace/name` or a name in the Canary's
    /// namespace), or — Flagger's shape — an `apps/v1` Deployment in the Canary's namespace.
    private static func canaryTarget(_ field: Field, namespace: String, reader: DocumentReader) -> CanaryTargetRef? {
        guard let fields = reader.mapping(field, Schema(known: ["apiVersion", "kind", "name"])) else { return nil }
        let kind = fields["kind"].flatMap(reader.string) ?? ResourceKind.virtualService.rawValue
        let target: ResourceKind
        switch kind {
        case ResourceKind.virtualService.rawValue: target = .virtualService
        case ResourceKind.deployment.rawValue: target = .deployment
        default:
            if let kindField = fields["kind"] {
                reader.error("\(kindField.path): expected VirtualService (Serin drives its routes' weights) or Deployment (Serin creates the primary, Services and VirtualService), got \"\(kind)\"", at: kindField.node)
            }
            return nil
        }
        if let versionField = fields["apiVersion"], let version = reader.string(versionField),
            !target.currentAPIVersions.contains(version)
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
        if target == .deployment { return .deployment(reference) }
        return .virtualService(ResourceName(reference: reference, relativeTo: namespace))
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

    /// Flagger's default `progressDeadlineSeconds`.
    static let flaggerProgressDeadline: Duration = .seconds(600)

    /// Flagger's `progressDeadlineSeconds`, or Serin's `progressDeadline` duration; nil when neither is written.
    private static func progressDeadline(in fields: Fields, reader: DocumentReader) -> Duration? {
        switch (fields["progressDeadlineSeconds"], fields["progressDeadline"]) {
        case (.some, .some(let written)):
            reader.error(
                "\(written.path) cannot be combined with progressDeadlineSeconds: set one of them", at: written.node
            )
            return nil
        case (.some(let seconds), nil):
            guard let value = reader.int(seconds) else { return nil }
            guard value > 0 else {
                reader.error("\(seconds.path) is \(value), expected a number of seconds above 0 (Flagger's default is 600)", at: seconds.node)
                return nil
            }
            return .seconds(value)
        case (nil, .some(let written)):
            return reader.duration(written)
        case (nil, nil):
            return nil
        }
    }
}

extension ManifestDecoder {
    /// Istio's TrafficPolicy fields, each with the fields of its own that Istio's API knows.
    private static let istioTrafficPolicy: [String: Set<String>] = [
        "loadBalancer": ["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"],
        "connectionPool": ["tcp", "http"],
        "outlierDetection": [
            "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveGatewayErrors", "consecutive5xxErrors",
            "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent", "consecutiveErrors",
        ],
        "tls": ["mode", "clientCertificate", "privateKey", "caCertificates", "credentialName", "subjectAltNames", "sni", "insecureSkipVerify", "caCrl"],
        "tunnel": ["protocol", "targetHost", "targetPort"],
        "proxyProtocol": ["version"],
        "retryBudget": ["percent", "minRetryConcurrency", "budgetInterval"],
    ]

    /// Flagger's `service.trafficPolicy`: Istio's TrafficPolicy, which Serin writes as given into the DestinationRules
    /// it creates for NAME-primary and NAME-canary, as Flagger does. Istio's sidecars apply it, not Serin's gateway,
    /// so every Istio policy is taken (`tls.mode: ISTIO_MUTUAL` too, which the embedded gateway refuses in a
    /// DestinationRule of its own). Its shape is checked as Istio's API would check it: its fields and theirs by
    /// name, and a known `tls.mode`.
    static func serviceTrafficPolicy(_ field: Field, reader: DocumentReader) {
        let known = Set(istioTrafficPolicy.keys).union(["portLevelSettings"])
        guard let fields = reader.mapping(field, Schema(known: known)) else { return }
        guard field.node.mapping?.isEmpty == false else {
            reader.error("\(field.path): expected at least one policy", at: field.node)
            return
        }
        for (key, subfields) in istioTrafficPolicy {
            guard let value = fields[key], let policy = reader.mapping(value, Schema(known: subfields)) else { continue }
            if key == "tls", let mode = policy["mode"], let text = reader.string(mode), !istioTLSModes.contains(text) {
                reader.error("\(mode.path): expected one of \(istioTLSModes.joined(separator: ", ")), got \"\(text)\"", at: mode.node)
            }
        }
        if let ports = fields["portLevelSettings"] { _ = reader.list(ports) }
    }
}
