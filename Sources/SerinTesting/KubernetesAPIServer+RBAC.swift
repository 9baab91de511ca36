import Foundation
import NIOConcurrencyHelpers
import SerinKubernetes

/// RBAC as the API server enforces it, for service-account tokens: a call is allowed when a ClusterRoleBinding,
/// or a RoleBinding in the call's namespace, binds the account to a ClusterRole or Role with a rule that names
/// the verb, the API group and the resource (`canaries/status` for the subresource); otherwise it is a 403
/// Forbidden worded as Kubernetes words it. The roles and bindings are the stored objects (applied from
/// deploy/kubernetes/rbac.yaml, say). The server's own token stands for a cluster admin and can do everything;
/// discovery and `/version` are open to every authenticated caller, as `system:discovery` allows.
extension KubernetesAPIServer {
    /// A bearer token for the service account `namespace/name`; calls with it are authorized by RBAC.
    public func serviceAccountToken(namespace: String, name: String) -> String {
        let token = "sa-\(namespace)-\(name)-\(UUID().uuidString.prefix(8))"
        state.withLockedValue { $0.serviceAccounts[token] = (namespace, name) }
        return token
    }

    /// A kubeconfig that calls as the service account `namespace/name` (a token of its own), in `directory`.
    public func writeKubeconfig(in directory: URL, asServiceAccount namespace: String, _ name: String) throws -> String {
        let subdirectory = directory.appendingPathComponent("sa-\(namespace)-\(name)")
        try FileManager.default.createDirectory(at: subdirectory, withIntermediateDirectories: true)
        return try writeKubeconfig(in: subdirectory, token: serviceAccountToken(namespace: namespace, name: name))
    }

    /// The verb RBAC names a call by.
    static func verb(_ method: String, named: Bool, watching: Bool) -> String {
        switch method {
        case "GET": named ? "get" : (watching ? "watch" : "list")
        case "POST": "create"
        case "PUT": "update"
        case "PATCH": "patch"
        case "DELETE": named ? "delete" : "deletecollection"
        default: method.lowercased()
        }
    }

    /// nil when the service account may make the call, else the 403.
    static func forbidden(
        serviceAccount: (namespace: String, name: String), verb: String, route: Route, resource: ServedResource, in state: State
    ) -> Reply? {
        let user = "system:serviceaccount:\(serviceAccount.namespace):\(serviceAccount.name)"
        let resourceName = route.subresource.map { "\(route.resource)/\($0)" } ?? route.resource
        let namespace = resource.namespaced ? route.namespace : nil
        if rules(of: serviceAccount, in: namespace, state).contains(where: { rule in
            allows(rule["apiGroups"], route.group) && allows(rule["resources"], resourceName) && allows(rule["verbs"], verb)
                && (rule["resourceNames"]?.arrayValue?.isEmpty ?? true || (route.name.map { allows(rule["resourceNames"], $0) } ?? false))
        }) {
            return nil
        }
        let object = route.name.map { "\(resource.qualifiedName) \"\($0)\"" } ?? resource.qualifiedName
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        let reply = status(
            403, "Forbidden",
            "\(object) is forbidden: User \"\(user)\" cannot \(verb) resource \"\(resourceName)\" in API group \"\(route.group)\" \(scope)")
        guard case .json(let code, .object(var fields)) = reply else { return reply }
        var details: [String: JSONValue] = ["group": .string(route.group), "kind": .string(route.resource)]
        if let name = route.name { details["name"] = .string(name) }
        fields["details"] = .object(details)
        return .json(code, .object(fields))
    }

    private static func allows(_ list: JSONValue?, _ value: String) -> Bool {
        (list?.arrayValue ?? []).contains { $0 == "*" || $0.stringValue == value }
    }

    /// The rules bound to the account: through ClusterRoleBindings everywhere, through RoleBindings in `namespace`.
    private static func rules(of account: (namespace: String, name: String), in namespace: String?, _ state: State) -> [JSONValue] {
        func stored(_ resource: String, namespace: String = "", name: String) -> JSONValue? {
            state.objects[ObjectKey(groupVersion: "rbac.authorization.k8s.io/v1", resource: resource, namespace: namespace, name: name)]
        }
        let bindings = state.objects.filter { key, binding in
            key.group == "rbac.authorization.k8s.io"
                && (key.resource == "clusterrolebindings" || (key.resource == "rolebindings" && key.namespace == namespace))
                && (binding["subjects"]?.arrayValue ?? []).contains { subject in
                    subject["kind"] == "ServiceAccount" && subject["name"]?.stringValue == account.name
                        && (subject["namespace"]?.stringValue ?? key.namespace) == account.namespace
                }
        }
        return bindings.flatMap { key, binding -> [JSONValue] in
            guard let roleName = binding["roleRef"]?["name"]?.stringValue else { return [] }
            let role = binding["roleRef"]?["kind"] == "Role" ? stored("roles", namespace: key.namespace, name: roleName) : stored("clusterroles", name: roleName)
            return role?["rules"]?.arrayValue ?? []
        }
    }
}
