import Foundation
import NIOConcurrencyHelpers
import SerinKubernetes

/// What a client learns before its first call: the version (`/version`), the groups and versions served
/// (`/api`, `/apis`), each version's resources (`/api/v1`, `/apis/GROUP/VERSION`), and the OpenAPI v3 index
/// kubectl reads to learn that the server validates fields itself. The resources are the built-in ones Serin
/// touches, Istio's (a cluster with Istio), and each CustomResourceDefinition stored, from the moment it is
/// created; a resource not among them is a 404, as on a real server.
extension KubernetesAPIServer {
    /// A resource the double serves, as discovery lists it.
    struct ServedResource: Sendable {
        let group: String
        let versions: [String]
        let plural: String
        let singular: String
        let kind: String
        let namespaced: Bool
        var shortNames: [String] = []
        /// `status` is a subresource: writes to the object keep it, writes to `/status` change only it.
        var hasStatus = false
        /// A CRD's `additionalPrinterColumns` (of its first served version).
        var printerColumns: [JSONValue] = []

        func serves(_ groupVersion: String) -> Bool {
            versions.contains { (group.isEmpty ? $0 : "\(group)/\($0)") == groupVersion }
        }

        /// `canaries.serin.dev`, `deployments.apps`, `services`: how messages name the resource.
        var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    }

    static let verbs: JSONValue = ["create", "delete", "get", "list", "patch", "update", "watch"]

    /// The built-in resources Serin, its tests and kubectl's everyday verbs use, and Istio's.
    static let builtInResources: [ServedResource] = [
        ServedResource(group: "", versions: ["v1"], plural: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"]),
        ServedResource(group: "", versions: ["v1"], plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: ["svc"]),
        ServedResource(group: "", versions: ["v1"], plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"]),
        ServedResource(group: "", versions: ["v1"], plural: "secrets", singular: "secret", kind: "Secret", namespaced: true),
        ServedResource(group: "", versions: ["v1"], plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"]),
        ServedResource(group: "", versions: ["v1"], plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"]),
        ServedResource(group: "", versions: ["v1"], plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"]),
        ServedResource(
            group: "apps", versions: ["v1"], plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: ["deploy"],
            hasStatus: true),
        ServedResource(group: "apps", versions: ["v1"], plural: "replicasets", singular: "replicaset", kind: "ReplicaSet", namespaced: true, shortNames: ["rs"]),
        ServedResource(
            group: "autoscaling", versions: ["v2"], plural: "horizontalpodautoscalers", singular: "horizontalpodautoscaler",
            kind: "HorizontalPodAutoscaler", namespaced: true, shortNames: ["hpa"]),
        ServedResource(group: "coordination.k8s.io", versions: ["v1"], plural: "leases", singular: "lease", kind: "Lease", namespaced: true),
        ServedResource(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterroles", singular: "clusterrole", kind: "ClusterRole", namespaced: false),
        ServedResource(
            group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterrolebindings", singular: "clusterrolebinding", kind: "ClusterRoleBinding",
            namespaced: false),
        ServedResource(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "roles", singular: "role", kind: "Role", namespaced: true),
        ServedResource(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true),
        ServedResource(
            group: "apiextensions.k8s.io", versions: ["v1"], plural: "customresourcedefinitions", singular: "customresourcedefinition",
            kind: "CustomResourceDefinition", namespaced: false, shortNames: ["crd", "crds"]),
        // Istio's CRDs, as a cluster with Istio installed serves them.
        ServedResource(
            group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], plural: "virtualservices", singular: "virtualservice", kind: "VirtualService",
            namespaced: true, shortNames: ["vs"]),
        ServedResource(
            group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], plural: "gateways", singular: "gateway", kind: "Gateway", namespaced: true,
            shortNames: ["gw"]),
        ServedResource(
            group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], plural: "destinationrules", singular: "destinationrule", kind: "DestinationRule",
            namespaced: true, shortNames: ["dr"]),
    ]

    /// Serin's and Flagger's custom resources as a double started with `assumingCRDs` serves them before (or
    /// without) their CRDs being created.
    static let assumedCustomResources: [ServedResource] = [
        ServedResource(group: "serin.dev", versions: ["v1alpha1"], plural: "canaries", singular: "canary", kind: "Canary", namespaced: true, hasStatus: true),
        ServedResource(group: "serin.dev", versions: ["v1alpha1"], plural: "metrictemplates", singular: "metrictemplate", kind: "MetricTemplate", namespaced: true),
        ServedResource(group: "flagger.app", versions: ["v1beta1"], plural: "canaries", singular: "canary", kind: "Canary", namespaced: true, hasStatus: true),
        ServedResource(group: "flagger.app", versions: ["v1beta1"], plural: "metrictemplates", singular: "metrictemplate", kind: "MetricTemplate", namespaced: true),
        ServedResource(group: "serin.dev", versions: ["v1alpha1"], plural: "alertproviders", singular: "alertprovider", kind: "AlertProvider", namespaced: true),
        ServedResource(group: "flagger.app", versions: ["v1beta1"], plural: "alertproviders", singular: "alertprovider", kind: "AlertProvider", namespaced: true),
    ]

    /// A stored CustomResourceDefinition as the resource it defines; nil when its spec says too little.
    static func servedResource(definedBy crd: JSONValue) -> ServedResource? {
        guard let spec = crd["spec"], let group = spec["group"]?.stringValue, let names = spec["names"],
            let plural = names["plural"]?.stringValue, let kind = names["kind"]?.stringValue
        else { return nil }
        let versions = (spec["versions"]?.arrayValue ?? []).filter { $0["served"] != false }
        return ServedResource(
            group: group, versions: versions.compactMap { $0["name"]?.stringValue }, plural: plural,
            singular: names["singular"]?.stringValue ?? kind.lowercased(), kind: kind, namespaced: spec["scope"]?.stringValue != "Cluster",
            shortNames: names["shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            hasStatus: versions.first?["subresources"]?["status"] != nil,
            printerColumns: versions.first?["additionalPrinterColumns"]?.arrayValue ?? []
        )
    }

    /// Every resource served now: the built-in ones, the assumed custom ones (unless uninstalled), and those
    /// the stored CRDs define, which replace an assumed one of the same group and name.
    static func catalogue(in state: State) -> [ServedResource] {
        let defined = state.objects.filter { $0.key.group == "apiextensions.k8s.io" && $0.key.resource == "customresourcedefinitions" }
            .sorted { ObjectKey.ordered($0.key, $1.key) }.compactMap { servedResource(definedBy: $0.value) }
        let assumed = state.assumingCRDs ? assumedCustomResources.filter { resource in
            !defined.contains { $0.group == resource.group && $0.plural == resource.plural }
        } : []
        return (builtInResources + assumed + defined).filter { resource in
            !resource.versions.contains { state.notInstalled.contains((resource.group.isEmpty ? $0 : "\(resource.group)/\($0)") + "/" + resource.plural) }
        }
    }

    static func resource(_ route: Route, in state: State) -> ServedResource? {
        catalogue(in: state).first { $0.plural == route.resource && $0.serves(route.groupVersion) }
    }

    // MARK: Answers

    /// The answer to a discovery or OpenAPI path, nil for a path that is not one.
    func discovery(_ path: String) -> Reply? {
        let parts = path.split(separator: "/").map(String.init)
        let catalogue = state.withLockedValue { Self.catalogue(in: $0) }
        if parts == ["version"] {
            return .json(200, [
                "major": "1", "minor": "32", "gitVersion": "v1.32.0-serin-double", "platform": "linux/amd64", "goVersion": "go1.23",
                "compiler": "gc", "buildDate": "2026-01-01T00:00:00Z", "gitCommit": "", "gitTreeState": "clean",
            ])
        }
        if parts == ["api"] {
            return .json(200, [
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string("127.0.0.1:\(port)")]],
            ])
        }
        if parts == ["apis"] {
            return .json(200, [
                "kind": "APIGroupList", "apiVersion": "v1", "groups": .array(Self.groups(catalogue).filter { !$0.name.isEmpty }.map(Self.groupDocument)),
            ])
        }
        if parts.count == 2, parts[0] == "apis" {
            guard let versions = Self.groups(catalogue).first(where: { $0.name == parts[1] && !$0.name.isEmpty }) else { return Self.notFoundPath() }
            return .json(200, Self.groupDocument(versions))
        }
        if parts == ["api", "v1"] || (parts.count == 3 && parts[0] == "apis") {
            return Self.resourceList(parts.dropFirst().joined(separator: "/"), catalogue)
        }
        if parts == ["openapi", "v3"] {
            let paths = Self.groups(catalogue).flatMap { group in group.versions.map { group.name.isEmpty ? "api/\($0)" : "apis/\(group.name)/\($0)" } }
            return .json(200, [
                "paths": .object(Dictionary(uniqueKeysWithValues: paths.map { ($0, ["serverRelativeURL": .string("/openapi/v3/\($0)?hash=serin")]) }))
            ])
        }
        if parts.count >= 3, parts[0] == "openapi", parts[1] == "v3" {
            return Self.openAPIDocument(Array(parts.dropFirst(2)), catalogue)
        }
        // No OpenAPI v2 (nor anything else under /openapi): kubectl reads v3.
        return parts.first == "openapi" ? Self.notFoundPath() : nil
    }

    static func notFoundPath() -> Reply {
        status(404, "NotFound", "the server could not find the requested resource")
    }

    /// Groups in discovery order (the core group first), each with its versions, the first preferred.
    private static func groups(_ catalogue: [ServedResource]) -> [(name: String, versions: [String])] {
        var groups: [(name: String, versions: [String])] = []
        for resource in catalogue {
            if let index = groups.firstIndex(where: { $0.name == resource.group }) {
                groups[index].versions += resource.versions.filter { !groups[index].versions.contains($0) }
            } else {
                groups.append((resource.group, resource.versions))
            }
        }
        return groups
    }

    private static func groupDocument(_ group: (name: String, versions: [String])) -> JSONValue {
        let versions: [JSONValue] = group.versions.map { ["groupVersion": .string("\(group.name)/\($0)"), "version": .string($0)] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(group.name), "versions": .array(versions), "preferredVersion": versions[0]]
    }

    private static func resourceList(_ groupVersion: String, _ catalogue: [ServedResource]) -> Reply {
        let served = catalogue.filter { $0.serves(groupVersion) }
        guard !served.isEmpty else { return notFoundPath() }
        var resources: [JSONValue] = []
        for resource in served {
            resources.append([
                "name": .string(resource.plural), "singularName": .string(resource.singular), "namespaced": .bool(resource.namespaced),
                "kind": .string(resource.kind), "verbs": verbs, "shortNames": .array(resource.shortNames.map(JSONValue.string)),
            ])
            if resource.hasStatus {
                resources.append([
                    "name": .string("\(resource.plural)/status"), "singularName": "", "namespaced": .bool(resource.namespaced),
                    "kind": .string(resource.kind), "verbs": ["get", "patch", "update"],
                ])
            }
        }
        return .json(200, ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)])
    }

    /// One group-version's OpenAPI v3 document, as far as kubectl reads it: for each kind, a PATCH operation
    /// that takes `fieldValidation`, so kubectl leaves validation to the server (which this double does not
    /// model: unknown fields are kept, not refused).
    private static func openAPIDocument(_ parts: [String], _ catalogue: [ServedResource]) -> Reply {
        let groupVersion = parts.dropFirst().joined(separator: "/")
        let served = catalogue.filter { $0.serves(groupVersion) }
        guard !served.isEmpty else { return notFoundPath() }
        let version = String(groupVersion.split(separator: "/").last ?? "")
        var paths: [String: JSONValue] = [:]
        for resource in served {
            let prefix = resource.group.isEmpty ? "/api/\(version)" : "/apis/\(resource.group)/\(version)"
            let path = resource.namespaced ? "\(prefix)/namespaces/{namespace}/\(resource.plural)/{name}" : "\(prefix)/\(resource.plural)/{name}"
            paths[path] = [
                "patch": [
                    "x-kubernetes-group-version-kind": ["group": .string(resource.group), "version": .string(version), "kind": .string(resource.kind)],
                    "parameters": [["name": "fieldValidation", "in": "query", "schema": ["type": "string"]]],
                    "responses": [:],
                ]
            ]
        }
        return .json(200, ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": .object(paths)])
    }
}
