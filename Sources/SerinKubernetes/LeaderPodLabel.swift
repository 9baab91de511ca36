import Logging
/// Marks the pod of the replica that leads with `serin.dev/leader: "true"` and unmarks it when it stops
/// leading. The controller's Service selects that label, so the API, the dashboard and `/metrics` always come
/// from the one replica that has the Canaries in hand, never from a follower that knows none.
public struct LeaderPodLabel: Sendable {
    public static let key = "serin.dev/leader"

    private let api: any KubernetesAPI
    private let pod: ResourcePath
    private let logger: Logger

    /// - Parameters: namespace, name: this replica's pod (the downward API's `metadata.namespace` and `metadata.name`).
    public init(api: any KubernetesAPI, namespace: String, name: String, logger: Logger) {
        self.api = api
        self.pod = ResourcePath(groupVersion: "v1", resource: "pods", namespace: namespace, name: name)
        self.logger = logger
    }

    /// `lead` with the label set while it runs: before it starts, and removed after it stops (also when cancelled).
    public func whileLeading(_ lead: @escaping @Sendable () async -> Void) -> @Sendable () async -> Void {
        let label = self
        return {
            await label.set(true)
            await lead()
            // The leading task is cancelled by now, and the HTTP client gives up on calls made from a cancelled
            // task: the label is removed from a task of its own.
            await Task { await label.set(false) }.value
        }
    }

    /// Sets or removes the label; a failure is logged, never fatal (the Service then points at the wrong pod
    /// until the next change, which the log says).
    public func set(_ leading: Bool, attempt: Int = 1) async {
        do {
            let object = try await api.get(pod)
            let labels = object["metadata"]?["labels"]?.objectValue
            let path: JSONPointer = ["metadata", "labels", Self.key]
            var operations: [JSONPatchOperation] = []
            if let version = object["metadata"]?["resourceVersion"] {
                operations.append(.test(path: ["metadata", "resourceVersion"], value: version))
            }
            switch (leading, labels) {
            case (true, nil):
                operations.append(.add(path: ["metadata", "labels"], value: [Self.key: "true"]))
            case (true, .some):
                operations.append(.add(path: path, value: "true"))
            case (false, let labels?) where labels[Self.key] != nil:
                operations.append(.remove(path: path))
            case (false, _):
                return
            }
            _ = try await api.patch(pod, operations)
        } catch let error as KubernetesAPIError where error.isConflict && attempt < 5 {
            // The pod changed between the read and the write (the kubelet writes its status): again.
            await set(leading, attempt: attempt + 1)
        } catch {
            logger.warning("cannot \(leading ? "set" : "remove") label \(Self.key) on pod \(pod.namespace ?? "")/\(pod.name ?? ""): \(error)", error: error)
        }
    }
}
