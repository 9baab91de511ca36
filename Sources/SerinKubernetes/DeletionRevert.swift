import Foundation
import SerinCore

/// Carries out Flagger's `revertOnDeletion` for a deleted Canary (`RevertOnDeletion.revert`), from the rollout stored
/// on it (`Rollout.reversion`): the routes first — all traffic to the stable, or on a Deployment to the primary, which
/// serves until it goes with the Canary — then the target scaled back up like the primary; once the target is rolled
/// out and available, the finalizer comes off, and the API server deletes the Canary (and its collector what Serin
/// created for it). Each step is written only when it is not so already, so asking again until it is done is cheap.
struct DeletionRevert: Sendable {
    let api: any KubernetesAPI

    /// How far the revert got.
    enum Outcome: Equatable {
        /// Reverted and the finalizer off, saying what was put back.
        case done(String)
        /// Put back, but the target is not ready to serve alone yet: the finalizer stays.
        case waiting(String)
    }

    /// Reverts the deleted Canary `name` of `group`, as the API server holds it now (after the controller's last save).
    func revert(_ name: ResourceName, group: CanaryGroup) async throws -> Outcome {
        let path = group.path(namespace: name.namespace, name: name.name)
        let canary = try await api.get(path)
        let rollout = try group.state(in: canary).map { try JSONDecoder().decode(Rollout.self, from: Data($0.utf8)) }
        let said: String
        if let rollout, let reversion = rollout.reversion {
            switch try await putBack(reversion, of: rollout.spec) {
            case .waiting(let reason): return .waiting(reason)
            case .done(let what): said = what
            }
        } else {
            said = "nothing to put back: Serin never took its routes over"
        }
        try await setFinalizer(false, on: canary, at: path)
        return .done(said)
    }

    /// The routes, then the target: done, or waiting for the target.
    private func putBack(_ reversion: Reversion, of spec: CanarySpec) async throws -> Outcome {
        var said: [String] = []
        let serving = reversion.split.stable.weight == 100 ? reversion.split.stable : reversion.split.canary
        do {
            try await KubernetesTrafficRouter(api: api).setWeights(for: spec, reversion.split)
            said.append("all traffic to \(serving.destination) in VirtualService \(spec.targetRef)")
        } catch let failure as KubernetesTrafficRouter.Failure where failure.isMissing {
            said.append("no routes to put back (\(failure.message))")
        }
        if let scaling = reversion.scaling {
            try await KubernetesWorkloads(api: api).scale(scaling)
            let state = await KubernetesWorkloadReadiness(api: api).readiness(of: scaling.target)
            guard state.ready else {
                return .waiting("Deployment \(scaling.target) is scaled back up like \(scaling.primary.name), which goes with the Canary; "
                    + "waiting until it is ready: \(state.reason)")
            }
            said.append("Deployment \(scaling.target) scaled back up like \(scaling.primary.name), and ready")
        }
        return .done(said.joined(separator: "; "))
    }

    /// Adds the Canary's finalizer (`held`) or takes it off, from `canary` as read: a 409 (another write since)
    /// reads it again and tries again (`KubernetesAPI.update`). A Canary gone meanwhile needs nothing.
    func setFinalizer(_ held: Bool, on canary: JSONValue, at path: ResourcePath) async throws {
        do {
            _ = try await api.update(path, from: canary) { RevertOnDeletion.setFinalizer(held, in: &$0) }
        } catch let error as KubernetesAPIError where error.isNotFound {
            return
        }
    }
}
