import SerinCore

/// The controller's `WorkloadReadiness` port on Kubernetes: a Deployment is ready when its controller has
/// observed the latest spec, every replica runs the new template, no old replica is left, and all are
/// available — what `kubectl rollout status` waits for, with the same kind of message while it waits — or, with a
/// ready threshold below 100 (Flagger's `canaryReadyThreshold`, `primaryReadyThreshold`), that share of them.
public struct KubernetesWorkloadReadiness: WorkloadReadiness {
    private let api: any KubernetesAPI

    public init(api: any KubernetesAPI) {
        self.api = api
    }

    public func readiness(of deployment: ResourceName, readyThreshold: Int) async -> WorkloadState {
        let object: JSONValue
        do {
            object = try await api.get(.deployment(namespace: deployment.namespace, name: deployment.name))
        } catch let error as KubernetesAPIError where error.isNotFound {
            return WorkloadState(ready: false, reason: "Deployment \(deployment) does not exist")
        } catch {
            return WorkloadState(ready: false, reason: "cannot read Deployment \(deployment): \(error)")
        }
        return Self.state(of: object, readyThreshold: readyThreshold)
    }

    /// `kubectl rollout status`'s rules, applied to a Deployment object; with `readyThreshold` below 100, available
    /// replicas need only reach that percentage of the updated ones, rounded down (as Flagger counts them).
    public static func state(of deployment: JSONValue, readyThreshold: Int = AnalysisSpec.defaultReadyThreshold) -> WorkloadState {
        let status = deployment["status"] ?? [:]
        let generation = deployment["metadata"]?["generation"]?.intValue ?? 0
        let observed = status["observedGeneration"]?.intValue ?? 0
        guard observed >= generation else {
            return WorkloadState(ready: false, reason: "the Deployment's latest spec is not observed yet")
        }
        if let conditions = status["conditions"]?.arrayValue,
            conditions.contains(where: { $0["type"] == "Progressing" && $0["reason"] == "ProgressDeadlineExceeded" })
        {
            return WorkloadState(ready: false, reason: "its rollout exceeded its progress deadline", stalled: true)
        }
        let wanted = deployment["spec"]?["replicas"]?.intValue ?? 1
        let updated = status["updatedReplicas"]?.intValue ?? 0
        let replicas = status["replicas"]?.intValue ?? 0
        let available = status["availableReplicas"]?.intValue ?? 0
        if updated < wanted {
            return WorkloadState(ready: false, reason: "\(updated) of \(wanted) new replicas have been updated")
        }
        if replicas > updated {
            return WorkloadState(ready: false, reason: "\(replicas - updated) old replicas are pending termination")
        }
        let needed = share(readyThreshold, of: updated)
        let threshold = readyThreshold < 100 ? ", \(needed) needed (ready threshold \(readyThreshold)%)" : ""
        if available < needed {
            return WorkloadState(ready: false, reason: "\(available) of \(updated) updated replicas are available" + threshold)
        }
        return WorkloadState(ready: true, reason: "\(available) of \(wanted) replicas available" + threshold)
    }

    /// `percent` of `count` replicas, rounded down, as Flagger counts a ready threshold's share.
    static func share(_ percent: Int, of count: Int) -> Int {
        count * min(max(percent, 0), 100) / 100
    }
}
