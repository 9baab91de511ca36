import NIOConcurrencyHelpers
import SerinKubernetes

/// The Deployment controller and the kubelets behind it, as far as a canary controller can see them: after a
/// Deployment's spec changes (a new generation: another template or replica count), its status is written
/// again, in a write of its own, as it reads once the rollout is complete. Tests can hold rollouts to see the
/// Deployment mid-rollout (its controller has not observed the new generation), complete them, or fail one at
/// its progress deadline.
extension KubernetesAPIServer {
    /// Holds every Deployment rollout from now on, as a cluster whose new pods are not ready yet: a spec change
    /// leaves status as it was, so observedGeneration lags and `KubernetesWorkloadReadiness` says not ready.
    public func holdDeploymentRollouts() {
        state.withLockedValue { $0.holdingRollouts = true }
    }

    /// Completes every held rollout (each Deployment's status written as rolled out, a MODIFIED each) and holds
    /// no more: the new pods came up.
    public func completeDeploymentRollouts() {
        state.withLockedValue { state in
            state.holdingRollouts = false
            let held = state.heldRollouts.sorted(by: ObjectKey.ordered)
            state.heldRollouts.removeAll()
            for key in held { Self.completeRollout(of: key, in: &state) }
        }
    }

    /// A rollout stuck past its progress deadline, which a canary controller must treat as failed: the latest
    /// generation observed, `Progressing` False with reason `ProgressDeadlineExceeded`, replica counts as they
    /// were. A held rollout stays held: completing rollouts later still brings it up, as Kubernetes allows.
    /// Returns the stored Deployment, nil if there is none.
    @discardableResult
    public func failDeploymentRollout(_ key: ObjectKey) -> JSONValue? {
        state.withLockedValue { state in
            guard key.isDeployment, let deployment = state.objects[key], case .object(var fields) = deployment else { return nil }
            var status = fields["status"]?.objectValue ?? [:]
            status["observedGeneration"] = deployment["metadata"]?["generation"] ?? 1
            var conditions = (status["conditions"]?.arrayValue ?? []).filter { $0["type"] != "Progressing" }
            conditions.append([
                "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": .string("ReplicaSet of Deployment \"\(key.name)\" has timed out progressing."),
            ])
            status["conditions"] = .array(conditions)
            fields["status"] = .object(status)
            return Self.store(.object(fields), at: key, type: "MODIFIED", in: &state)
        }
    }

    /// Stores a write and reacts as the cluster's controllers would. `settingStatus`: the writer (a test hook)
    /// set the status itself, which then stays as written.
    static func write(_ object: JSONValue, at key: ObjectKey, type: String, settingStatus: Bool = false, in state: inout State) -> JSONValue {
        let generation = state.objects[key]?["metadata"]?["generation"]
        let object = keepingDeletionMark(object, of: state.objects[key])
        if state.objects[key] != nil, isFinalized(object) {
            // Its last finalizer taken off: the object goes (`+Finalizers`).
            return remove(key, as: object, in: &state) ?? object
        }
        let stored = store(object, at: key, type: type, in: &state)
        if type == "ADDED", collectsOrphan(stored, in: state) {
            _ = remove(key, in: &state)
            return stored
        }
        if key.isDeployment, !settingStatus, stored["metadata"]?["generation"] != generation {
            if state.holdingRollouts {
                state.heldRollouts.insert(key)
            } else {
                completeRollout(of: key, in: &state)
            }
        }
        return stored
    }

    /// Writes the status of a completed rollout: the latest generation observed, every wanted replica updated,
    /// ready and available, none old left, and the conditions that say so.
    static func completeRollout(of key: ObjectKey, in state: inout State) {
        guard let deployment = state.objects[key], case .object(var fields) = deployment else { return }
        let replicas = JSONValue.number(Double(deployment["spec"]?["replicas"]?.intValue ?? 1))
        fields["status"] = [
            "observedGeneration": deployment["metadata"]?["generation"] ?? 1,
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                ["type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."],
                [
                    "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": .string("ReplicaSet of Deployment \"\(key.name)\" has successfully progressed."),
                ],
            ],
        ]
        _ = store(.object(fields), at: key, type: "MODIFIED", in: &state)
    }
}

extension KubernetesAPIServer.ObjectKey {
    /// An `apps` Deployment, whichever version names it.
    var isDeployment: Bool { group == "apps" && resource == "deployments" }
}
