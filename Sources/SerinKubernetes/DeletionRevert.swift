import Foundation
import SerinCore

/// Carries out Flagger's `revertOnDeletion` for a deleted Canary (`RevertOnDeletion.revert`), from the rollout stored
/// on it (`Rollout.reversion`): Flagger's `Terminating` phase on the Canary first, then the routes — all traffic to the
/// stable, or on a Deployment to the primary, which serves until it goes with the Canary — then the target scaled back
/// up like the primary; once the target is rolled out and available, the finalizer comes off, and the API server
/// deletes the Canary (and its collector what Serin created for it). Each step is written only when it is not so
/// already, so asking again until it is done is cheap; each says what it did (`Step`), for the Canary's Events.
struct DeletionRevert: Sendable {
    let api: any KubernetesAPI

    /// How far the revert got.
    enum Outcome: Equatable {
        /// Reverted and the finalizer off, saying what was put back.
        case done(String)
        /// Put back, but the target is not ready to serve alone yet: the finalizer stays.
        case waiting(String)
        /// The Canary went meanwhile (its finalizer taken off by hand): nothing is left to do.
        case gone
    }

    /// A step of the revert, as done, in the words of the Event that tells it (`RevertNarration`).
    enum Step: Hashable, Sendable {
        /// Flagger's `Terminating` phase written on the Canary: the revert starts.
        case terminating
        /// The routes put back, or why there were none to put back.
        case routes(String)
        /// The target scaled back up like the primary.
        case target(String)
        /// The primary gone before the target could be scaled like it: what was done instead.
        case targetWithoutPrimary(String)
        /// The finalizer taken off: the API server deletes the Canary.
        case finalized(String)
    }

    /// Reverts the deleted Canary `name` of `group`, as the API server holds it now (after the controller's last save),
    /// appending to `steps` what it did, also when it then fails.
    func revert(_ name: ResourceName, group: CanaryGroup, steps: inout [Step]) async throws -> Outcome {
        let path = group.path(namespace: name.namespace, name: name.name)
        var canary: JSONValue
        do {
            canary = try await api.get(path)
        } catch let error as KubernetesAPIError where error.isNotFound {
            return .gone
        }
        if let written = try await markTerminating(canary, at: path) {
            canary = written
            steps.append(.terminating)
        }
        let rollout = try group.state(in: canary).map { try JSONDecoder().decode(Rollout.self, from: Data($0.utf8)) }
        let said: String
        if let rollout, let reversion = rollout.reversion {
            switch try await putBack(reversion, of: rollout.spec, steps: &steps) {
            case .done(let what): said = what
            case let other: return other
            }
        } else {
            said = "nothing to put back: Serin never took its routes over"
            steps.append(.routes(said))
        }
        try await setFinalizer(false, on: canary, at: path)
        steps.append(.finalized(group.finalizer))
        return .done(said)
    }

    /// Writes Flagger's `Terminating` phase in the Canary's status unless it says so already (an earlier attempt wrote
    /// it): the Canary as written, or nil when nothing was written — or the Canary has gone, which fails nothing.
    private func markTerminating(_ canary: JSONValue, at path: ResourcePath) async throws -> JSONValue? {
        let phase = JSONValue.string(RevertOnDeletion.terminatingPhase)
        var written = false
        do {
            let stored = try await api.update(path, status: true, from: canary) { fields in
                var status = fields["status"]?.objectValue ?? [:]
                // Decided again on every read: after a 409, the Canary read afresh may say so already.
                written = status["phase"] != phase
                status["phase"] = phase
                fields["status"] = .object(status)
                return written
            }
            // Not `written ? stored : nil`: a JSONValue literal nil is `.null`, and that is not "nothing written".
            guard written else { return nil }
            return stored
        } catch let error as KubernetesAPIError where error.isNotFound {
            return nil
        }
    }

    /// The routes, then the target: done, or waiting for the target.
    private func putBack(_ reversion: Reversion, of spec: CanarySpec, steps: inout [Step]) async throws -> Outcome {
        var said: [String] = []
        let serving = reversion.split.stable.weight == 100 ? reversion.split.stable : reversion.split.canary
        do {
            try await KubernetesTrafficRouter(api: api).setWeights(for: spec, reversion.split)
            said.append("all traffic to \(serving.destination) in VirtualService \(spec.targetRef)")
        } catch let failure as KubernetesTrafficRouter.Failure where failure.isMissing {
            said.append("no routes to put back (\(failure.message))")
        }
        steps.append(.routes(said[0]))
        if let scaling = reversion.scaling {
            let scaled: String
            let waiting: String
            if try await exists(.deployment(namespace: scaling.primary.namespace, name: scaling.primary.name)) {
                try await KubernetesWorkloads(api: api).scale(scaling)
                scaled = "Deployment \(scaling.target) scaled back up like \(scaling.primary.name)"
                waiting = "Deployment \(scaling.target) is scaled back up like \(scaling.primary.name), which goes with the Canary"
                steps.append(.target(scaled))
            } else {
                scaled = try await scaleWithoutPrimary(scaling)
                waiting = scaled
                steps.append(.targetWithoutPrimary(scaled))
            }
            let state = await KubernetesWorkloadReadiness(api: api).readiness(of: scaling.target)
            guard state.ready else { return .waiting("\(waiting); waiting until it is ready: \(state.reason)") }
            said.append("\(scaled), and ready")
        }
        return .done(said.joined(separator: "; "))
    }

    /// Flagger's answer when the primary has gone before the target could be scaled like it (its `ScaleFromZero`): the
    /// target keeps the replicas it asks for, or gets one when it asks for none, rather than holding the Canary's
    /// deletion for good; an autoscaler of its own takes it from there. Says what it did.
    private func scaleWithoutPrimary(_ scaling: WorkloadScaling) async throws -> String {
        let path = ResourcePath.deployment(namespace: scaling.target.namespace, name: scaling.target.name)
        // Absent, it is Kubernetes' default: one.
        let asked = try await api.get(path)["spec"]?["replicas"]?.intValue ?? 1
        let gone = "Deployment \(scaling.primary) is gone, so Deployment \(scaling.target)"
        if asked > 0 { return "\(gone) keeps its own \(asked) replica\(asked == 1 ? "" : "s") instead of being scaled like it" }
        _ = try await api.patch(path, [.add(path: ["spec", "replicas"], value: 1)])
        return "\(gone) is scaled from 0 to 1 replica instead of like it"
    }

    private func exists(_ path: ResourcePath) async throws -> Bool {
        do {
            _ = try await api.get(path)
            return true
        } catch let error as KubernetesAPIError where error.isNotFound {
            return false
        }
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
