import SerinKubernetes

/// A Service's `spec.clusterIP`, as the API server keeps it: allocated when a Service is created without one (`None`,
/// headless, is kept as sent), and never changed in place, so an update that sends another value is a 422 that changes
/// nothing, while one that leaves it out keeps the stored value (what the real server does since Kubernetes 1.20).
extension KubernetesAPIServer {
    static func admittingService(_ object: JSONValue, current: JSONValue?, at route: Route, revision: Int) throws -> JSONValue {
        guard route.groupVersion == "v1", route.resource == "services", case .object(var fields) = object,
            object["spec"]?["type"]?.stringValue != "ExternalName"
        else { return object }
        var spec = fields["spec"]?.objectValue ?? [:]
        let sent = spec["clusterIP"]?.stringValue ?? ""
        if let stored = current?["spec"]?["clusterIP"]?.stringValue, !stored.isEmpty {
            guard sent.isEmpty || sent == stored else {
                throw ReplyError(reply: Self.status(
                    422, "Invalid", "Service \"\(object["metadata"]?["name"]?.stringValue ?? "")\" is invalid: "
                        + "spec.clusterIP: Invalid value: \"\(sent)\": field is immutable"))
            }
            spec["clusterIP"] = .string(stored)
        } else if sent.isEmpty {
            spec["clusterIP"] = .string("10.96.\((revision / 256) % 256).\(revision % 256)")
        }
        fields["spec"] = .object(spec)
        return .object(fields)
    }
}
