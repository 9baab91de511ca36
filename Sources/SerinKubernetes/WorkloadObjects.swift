import Foundation
import SerinCore

/// The objects Serin owns for a Canary in Flagger's shape, computed from the Canary and its target Deployment:
/// `NAME-primary` (the target's pod template under primary labels), the Services `NAME` and `NAME-primary`
/// (the primary's pods) and `NAME-canary` (the target's), the VirtualService `NAME` sending everything to the
/// primary (on an http route, or with `service.appProtocol: tcp` a tcp route, as Flagger writes them), a primary
/// HorizontalPodAutoscaler when the Canary names one, and DestinationRules `NAME-primary` and
/// `NAME-canary` when it writes a `service.trafficPolicy`. The Services are headless with `service.headless` and carry
/// `service.trafficDistribution`. The Services and VirtualService carry the labels and
/// annotations of `service.apex`, `service.primary` and `service.canary`, as Flagger writes them. Each carries an owner reference to
/// the Canary, so deleting the Canary deletes them, and so Serin can tell its own objects from a user's.
public enum WorkloadObjects {
    /// One object to create when missing.
    public struct Desired: Sendable, Equatable {
        public var path: ResourcePath
        public var object: JSONValue
        /// Flagger's `service.unmanagedMetadata`, by `labels` and `annotations`: the keys whose stored values alignment
        /// keeps, whoever set them.
        public var unmanagedMetadata: [String: Set<String>] = [:]
    }

    /// Everything the Canary needs besides the target, in creation order (the primary first, the routes last).
    /// `service` is the Canary's `spec.service` as written; `autoscaler` the target's HPA, when named.
    public static func desired(
        canary: JSONValue, workload: CanaryWorkload, target: JSONValue, service: JSONValue, autoscaler: JSONValue?
    ) -> [Desired] {
        let namespace = canary["metadata"]?["namespace"]?.stringValue ?? ResourceName.defaultNamespace
        let owner = ownerReference(of: canary)
        let name = workload.apexService
        func metadata(_ objectName: String) -> JSONValue {
            ["name": .string(objectName), "namespace": .string(namespace), "ownerReferences": [owner]]
        }
        let selector = target["spec"]?["selector"]?["matchLabels"]?.objectValue ?? ["app": .string(workload.deployment)]
        let primarySelector = JSONValue.object(primaryLabels(selector))
        var objects: [Desired] = []

        var primary = primaryTemplate(of: target)
        primary["metadata"] = metadata(workload.primary)
        var spec = primary["spec"]?.objectValue ?? [:]
        spec["selector"] = ["matchLabels": primarySelector]
        // The primary serves from the start: never zero replicas, whatever the target is scaled to.
        spec["replicas"] = .number(Double(max(1, target["spec"]?["replicas"]?.intValue ?? 1)))
        primary["spec"] = .object(spec)
        objects.append(Desired(path: .deployment(namespace: namespace, name: workload.primary), object: .object(primary)))

        if let autoscaler, var hpaSpec = autoscaler["spec"]?.objectValue {
            var scaleTarget = hpaSpec["scaleTargetRef"]?.objectValue ?? [:]
            scaleTarget["name"] = .string(workload.primary)
            hpaSpec["scaleTargetRef"] = .object(scaleTarget)
            let hpa: JSONValue = [
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": metadata(workload.primary), "spec": .object(hpaSpec),
            ]
            objects.append(Desired(path: .autoscaler(namespace: namespace, name: workload.primary), object: hpa))
        }

        var port: [String: JSONValue] = [
            "name": service["portName"] ?? "http", "port": .number(Double(workload.port)),
            "targetPort": service["targetPort"] ?? .number(Double(workload.port)), "protocol": "TCP",
        ]
        port["appProtocol"] = service["appProtocol"]
        let discovered = service["portDiscovery"] == true ? discoveredPorts(of: target, service: service, port: workload.port) : []
        for (serviceName, selects, block) in [
            (name, primarySelector, "apex"), (workload.primaryService, primarySelector, "primary"), (workload.canaryService, .object(selector), "canary"),
        ] {
            var serviceSpec: [String: JSONValue] = ["type": "ClusterIP", "selector": selects, "ports": .array([.object(port)] + discovered)]
            // Flagger's `service.headless` and `trafficDistribution`, on all three Services as Flagger writes them.
            if service["headless"] == true { serviceSpec["clusterIP"] = "None" }
            serviceSpec["trafficDistribution"] = service["trafficDistribution"]
            let object: JSONValue = [
                "apiVersion": "v1", "kind": "Service", "metadata": labelled(metadata(serviceName), by: service[block]),
                "spec": .object(serviceSpec),
            ]
            objects.append(Desired(path: .service(namespace: namespace, name: serviceName), object: object))
        }

        if let policy = service["trafficPolicy"] {
            // Flagger's `service.trafficPolicy`: a DestinationRule for each of the two Services, for Istio's sidecars.
            for serviceName in [workload.canaryService, workload.primaryService] {
                objects.append(Desired(path: .destinationRule(namespace: namespace, name: serviceName), object: destinationRule(
                    serviceName, metadata: metadata(serviceName), trafficPolicy: policy)))
            }
        }

        var route: [String: JSONValue] = [
            "route": [
                ["destination": ["host": .string(workload.primaryService), "port": ["number": .number(Double(workload.port))]], "weight": 100],
                ["destination": ["host": .string(workload.canaryService), "port": ["number": .number(Double(workload.port))]], "weight": 0],
            ]
        ]
        // Flagger's `service.delegation`: the VirtualService is a delegate, with no hosts or gateways, for a root
        // VirtualService people write to include by `delegate`.
        let delegates = service["delegation"] == true
        var virtualServiceSpec: [String: JSONValue] = [
            "hosts": delegates ? [] : .array(Self.once([.string(name)] + (service["hosts"]?.arrayValue ?? [])))
        ]
        if routesTCP(service) {
            // Flagger's TCP canary: one tcp route, matching each `service.match` entry's port (none: every connection).
            let ports = (service["match"]?.arrayValue ?? []).compactMap { $0["port"] }
            if !ports.isEmpty { route["match"] = .array(ports.map { ["port": $0] }) }
            virtualServiceSpec["tcp"] = [.object(route)]
        } else {
            for key in serviceRouteFields { route[key] = service[key] }
            virtualServiceSpec["http"] = [.object(route)]
        }
        if !delegates, let gateways = service["gateways"]?.arrayValue, !gateways.isEmpty {
            // Gateways named: the routes serve those, as in Flagger (list `mesh` among them for the mesh's own
            // callers); none named leaves Istio's default, the mesh alone.
            virtualServiceSpec["gateways"] = .array(Self.once(gateways))
        }
        let virtualService: JSONValue = [
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": labelled(metadata(name), by: service["apex"]),
            "spec": .object(virtualServiceSpec),
        ]
        objects.append(Desired(path: .virtualService(namespace: namespace, name: name), object: virtualService))
        var unmanaged: [String: Set<String>] = [:]
        for key in ["labels", "annotations"] {
            unmanaged[key] = Set((service["unmanagedMetadata"]?[key]?.arrayValue ?? []).compactMap(\.stringValue))
        }
        return objects.map { object in
            var object = object
            object.unmanagedMetadata = unmanaged
            return object
        }
    }

    /// Flagger's `service.portDiscovery`: every port of the target's containers besides the one the Canary routes
    /// (`service.targetPort`, else `service.port`), as a Service port of the same number, named as the container names
    /// it or `tcp-CONTAINER-INDEX`; a mesh proxy's (`istio-proxy`, `envoy`) are not the workload's. Sorted by name, so
    /// the Services do not change from one reconcile to the next.
    static func discoveredPorts(of target: JSONValue, service: JSONValue, port: Int) -> [JSONValue] {
        var ports: [String: Int] = [:]
        for container in target["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? [] {
            let containerName = container["name"]?.stringValue ?? ""
            guard !["istio-proxy", "envoy"].contains(containerName) else { continue }
            for (index, entry) in (container["ports"]?.arrayValue ?? []).enumerated() {
                guard let number = entry["containerPort"]?.intValue else { continue }
                let name = entry["name"]?.stringValue
                switch service["targetPort"] {
                case .string(let routed)?: if name == routed { continue }
                case .number(let routed)?: if Double(number) == routed { continue }
                default: if number == port { continue }
                }
                let portName = name ?? "tcp-\(containerName)-\(index)"
                // A Service's ports need names and numbers of their own: one the routed port has stays out.
                guard number != port, portName != (service["portName"]?.stringValue ?? "http") else { continue }
                ports[portName] = number
            }
        }
        return ports.sorted { $0.key < $1.key }.map { name, number in
            ["name": .string(name), "port": .number(Double(number)), "targetPort": .number(Double(number)), "protocol": "TCP"]
        }
    }

    /// Whether the Canary's `spec.service` asks for Flagger's TCP routes: `appProtocol: tcp`, in any case.
    static func routesTCP(_ service: JSONValue) -> Bool {
        service["appProtocol"]?.stringValue?.lowercased() == "tcp"
    }

    /// `metadata` with the `labels` and `annotations` of one of Flagger's `service.apex`, `service.primary` or
    /// `service.canary` blocks, when written.
    static func labelled(_ metadata: JSONValue, by block: JSONValue?) -> JSONValue {
        guard case .object(var fields) = metadata else { return metadata }
        for key in ["labels", "annotations"] {
            if let written = block?[key]?.objectValue, !written.isEmpty { fields[key] = .object(written) }
        }
        return .object(fields)
    }

    /// The DestinationRule Serin keeps for one of its Services (`NAME-primary`, `NAME-canary`), as Flagger names and
    /// writes it: the Service's name as its host, and the Canary's `service.trafficPolicy`, when written.
    static func destinationRule(_ serviceName: String, metadata: JSONValue, trafficPolicy: JSONValue?) -> JSONValue {
        var spec: [String: JSONValue] = ["host": .string(serviceName)]
        spec["trafficPolicy"] = trafficPolicy
        return ["apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule", "metadata": metadata, "spec": .object(spec)]
    }

    /// `values` without the repeats, in their first order: a host or gateway the Canary lists that Serin adds anyway.
    static func once(_ values: [JSONValue]) -> [JSONValue] {
        var seen: [JSONValue] = []
        for value in values where !seen.contains(value) { seen.append(value) }
        return seen
    }

    /// The owner reference every object Serin creates for the Canary carries.
    public static func ownerReference(of canary: JSONValue) -> JSONValue {
        [
            "apiVersion": canary["apiVersion"] ?? "serin.dev/v1alpha1", "kind": "Canary",
            "name": canary["metadata"]?["name"] ?? "", "uid": canary["metadata"]?["uid"] ?? "",
            "controller": true, "blockOwnerDeletion": true,
        ]
    }

    /// Whether `object` was created by Serin for the Canary with `uid`.
    public static func isOwned(_ object: JSONValue, byCanaryWithUID uid: String) -> Bool {
        object["metadata"]?["ownerReferences"]?.arrayValue?.contains { $0["kind"] == "Canary" && $0["uid"]?.stringValue == uid } == true
    }

    /// The primary's labels for the target's selector labels: each value gets `-primary` (`app: podinfo` →
    /// `app: podinfo-primary`), so the primary's pods and the target's never select each other.
    static func primaryLabels(_ selector: [String: JSONValue]) -> [String: JSONValue] {
        selector.mapValues { value in value.stringValue.map { .string("\($0)-primary") } ?? value }
    }

    /// The target's pod template as the primary runs it: the same containers and volumes, under primary labels.
    public static func primaryTemplate(of target: JSONValue) -> [String: JSONValue] {
        let selector = target["spec"]?["selector"]?["matchLabels"]?.objectValue ?? [:]
        var template = target["spec"]?["template"]?.objectValue ?? [:]
        var templateMetadata = template["metadata"]?.objectValue ?? [:]
        var labels = templateMetadata["labels"]?.objectValue ?? [:]
        labels.merge(primaryLabels(selector)) { $1 }
        templateMetadata["labels"] = .object(labels)
        template["metadata"] = .object(templateMetadata)
        return [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "spec": ["template": .object(template)],
        ]
    }

    /// The ConfigMaps and Secrets a pod template reads (volumes, `envFrom`, `env[].valueFrom`), by name.
    public static func referencedConfigs(of target: JSONValue) -> (configMaps: [String], secrets: [String]) {
        var configMaps: Set<String> = []
        var secrets: Set<String> = []
        let podSpec = target["spec"]?["template"]?["spec"]
        for volume in podSpec?["volumes"]?.arrayValue ?? [] {
            if let name = volume["configMap"]?["name"]?.stringValue { configMaps.insert(name) }
            if let name = volume["secret"]?["secretName"]?.stringValue { secrets.insert(name) }
        }
        let containers = (podSpec?["containers"]?.arrayValue ?? []) + (podSpec?["initContainers"]?.arrayValue ?? [])
        for container in containers {
            for source in container["envFrom"]?.arrayValue ?? [] {
                if let name = source["configMapRef"]?["name"]?.stringValue { configMaps.insert(name) }
                if let name = source["secretRef"]?["name"]?.stringValue { secrets.insert(name) }
            }
            for variable in container["env"]?.arrayValue ?? [] {
                if let name = variable["valueFrom"]?["configMapKeyRef"]?["name"]?.stringValue { configMaps.insert(name) }
                if let name = variable["valueFrom"]?["secretKeyRef"]?["name"]?.stringValue { secrets.insert(name) }
            }
        }
        return (configMaps.sorted(), secrets.sorted())
    }

    /// What the target runs, as a short digest: its pod template and the data of the ConfigMaps and Secrets it
    /// reads (`configs`, by kind and name; a missing one counts as missing). Equal content, equal revision.
    public static func revision(of target: JSONValue, configs: [String: JSONValue?]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var text = (try? encoder.encode(target["spec"]?["template"] ?? .null)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for key in configs.keys.sorted() {
            let data = configs[key].flatMap { $0 }.map { config -> JSONValue in
                ["data": config["data"] ?? .null, "binaryData": config["binaryData"] ?? .null]
            }
            text += "\n\(key)=" + ((try? encoder.encode(data ?? "missing")).map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
        // FNV-1a, 64 bits: a change detector, not a security boundary.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

extension ResourcePath {
    public static func service(namespace: String, name: String? = nil) -> ResourcePath {
        ResourcePath(groupVersion: "v1", resource: "services", namespace: namespace, name: name)
    }

    public static func configMap(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "v1", resource: "configmaps", namespace: namespace, name: name)
    }

    public static func secret(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "v1", resource: "secrets", namespace: namespace, name: name)
    }

    public static func destinationRule(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "networking.istio.io/v1beta1", resource: "destinationrules", namespace: namespace, name: name)
    }

    public static func autoscaler(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "autoscaling/v2", resource: "horizontalpodautoscalers", namespace: namespace, name: name)
    }

    /// Every Deployment, in one namespace or all: what a workload Canary's target is watched through.
    public static func deployments(namespace: String?) -> ResourcePath {
        ResourcePath(groupVersion: "apps/v1", resource: "deployments", namespace: namespace)
    }
}
