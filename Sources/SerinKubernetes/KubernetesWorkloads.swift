import Foundation
import SerinCore

/// Flagger's shape on a cluster: before the controller sees a Canary on a Deployment, its revision is read from
/// the target (pod template and the ConfigMaps and Secrets it uses) and the objects Serin owns are created when
/// missing (`WorkloadObjects`), or brought in line with an edited `spec.service`; during a release the target is
/// scaled and the primary gets the target's template.
/// An object of the same name that Serin did not create for this Canary is never overwritten: that is an error
/// naming it.
public struct KubernetesWorkloads: WorkloadManager {
    private let api: any KubernetesAPI

    public init(api: any KubernetesAPI) {
        self.api = api
    }

    /// Why a Canary whose `service.name` changed since its rollout set its objects up is refused: its clients call
    /// the Services and VirtualService by the names they have, and a second VirtualService for the same hosts would
    /// leave Istio two to choose from. Nil when the names are the ones the stored rollout runs on (or none is stored).
    static func renamedServices(_ workload: CanaryWorkload, canary: JSONValue) -> String? {
        guard let state = CanaryGroup.of(canary).state(in: canary),
            let stored = try? JSONDecoder().decode(StoredWorkload.self, from: Data(state.utf8)).spec.workload,
            stored.deployment == workload.deployment, stored.apexService != workload.apexService
        else { return nil }
        let back = stored.service.map { "service.name: \($0)" } ?? "no service.name (the Deployment's name)"
        return "spec.service.name is \(workload.apexService), but its Services and VirtualService are \(stored.apexService), "
            + "\(stored.primaryService) and \(stored.canaryService): Serin does not rename what a running Canary routes through, "
            + "which clients call by name; write \(back) again, or delete the Canary and apply it with the new name"
    }

    /// The split of the rollout stored on the Canary, whose routes a release adds (A/B testing's, the sticky
    /// canary's); nil for a Canary that adds none, or with no rollout stored yet. Read whole only for those.
    static func storedSplit(of spec: CanarySpec, canary: JSONValue) -> TrafficSplit? {
        guard spec.analysis.isABTesting || spec.analysis.sessionAffinity != nil,
            let state = CanaryGroup.of(canary).state(in: canary),
            let rollout = try? JSONDecoder().decode(Rollout.self, from: Data(state.utf8))
        else { return nil }
        return rollout.split
    }

    /// `spec` with its workload's revision filled in, after creating what the Canary needs and is missing and
    /// aligning the Services and VirtualService there with its `spec.service`; a suspended Canary's only read.
    /// `canary` is the Canary object as the cluster holds it (its uid owns what is created; its `spec.service`
    /// is copied as written).
    public func prepare(_ spec: CanarySpec, canary: JSONValue) async -> Result<CanarySpec, CanaryWatcher.Problem> {
        guard var workload = spec.workload else { return .success(spec) }
        let namespace = spec.name.namespace
        let label = "Canary \(spec.name)"
        if let renamed = Self.renamedServices(workload, canary: canary) {
            return .failure(.init(message: "\(label): \(renamed)"))
        }
        do {
            let target: JSONValue
            do {
                target = try await api.get(.deployment(namespace: namespace, name: workload.deployment))
            } catch let error as KubernetesAPIError where error.isNotFound {
                return .failure(.init(message: "\(label): its target Deployment \(namespace)/\(workload.deployment) does not exist"))
            }
            workload.revision = try await revision(of: target, namespace: namespace)
            if spec.suspend {
                // Flagger's `suspend`: nothing is created or changed for the Canary. Its revision is read all the same,
                // so the rollout holds a new one back (and says so) rather than taking it for the one it runs.
                var prepared = spec
                prepared.workload = workload
                return .success(prepared)
            }
            var autoscaler: JSONValue?
            if let name = workload.autoscaler {
                do {
                    autoscaler = try await api.get(.autoscaler(namespace: namespace, name: name))
                } catch let error as KubernetesAPIError where error.isNotFound {
                    return .failure(.init(message: "\(label): its autoscalerRef HorizontalPodAutoscaler \(namespace)/\(name) does not exist"))
                }
            }
            let uid = canary["metadata"]?["uid"]?.stringValue ?? ""
            let desired = WorkloadObjects.desired(
                canary: canary, workload: workload, target: target, service: canary["spec"]?["service"] ?? [:], autoscaler: autoscaler)
            // Every object is looked at before any is created or changed: a Canary refused for one object it may
            // not take leaves nothing of its own behind.
            var missing: [WorkloadObjects.Desired] = []
            var present: [(desired: WorkloadObjects.Desired, stored: JSONValue)] = []
            for object in desired {
                do {
                    let existing = try await api.get(object.path)
                    guard WorkloadObjects.isOwned(existing, byCanaryWithUID: uid) else {
                        return .failure(.init(message:
                            "\(label): \(object.object["kind"]?.stringValue ?? "object") \(namespace)/\(object.path.name ?? "") exists and "
                                + "was not created by Serin for this Canary; Serin never overwrites it (delete or rename it)"))
                    }
                    present.append((object, existing))
                } catch let error as KubernetesAPIError where error.isNotFound {
                    missing.append(object)
                }
            }
            for object in missing {
                _ = try await api.create(object.path.collection, object.object)
            }
            // An edited `spec.service` reaches the objects already there; the write carries the resourceVersion
            // read, and a 409 (another writer, a weight step) reads again and aligns that. The routes a release
            // added take it too, rendered with the split the stored rollout sets.
            let split = Self.storedSplit(of: spec, canary: canary)
            for (object, stored) in present {
                _ = try await api.update(object.path, from: stored) { fields in
                    WorkloadObjects.align(&fields, with: object, workload: workload, split: split)
                }
            }
            if canary["spec"]?["service"]?["trafficPolicy"] == nil {
                try await withdrawTrafficPolicy(of: workload, namespace: namespace, uid: uid)
            }
        } catch {
            return .failure(.init(message: "\(label): cannot prepare its Deployment's primary, Services and VirtualService: \(error)"))
        }
        var prepared = spec
        prepared.workload = workload
        return .success(prepared)
    }

    /// A `service.trafficPolicy` no longer written: the DestinationRules Serin created for it keep only their host,
    /// as Flagger leaves them, so Istio applies no policy of the Canary's any more. Rules it did not create, or that
    /// do not exist, are left alone.
    private func withdrawTrafficPolicy(of workload: CanaryWorkload, namespace: String, uid: String) async throws {
        for serviceName in [workload.canaryService, workload.primaryService] {
            let path = ResourcePath.destinationRule(namespace: namespace, name: serviceName)
            let stored: JSONValue
            do {
                stored = try await api.get(path)
            } catch let error as KubernetesAPIError where error.isNotFound {
                continue
            }
            guard WorkloadObjects.isOwned(stored, byCanaryWithUID: uid) else { continue }
            // The rule as it is with no policy, aligned as every object is: written only when it had one.
            let withdrawn = WorkloadObjects.Desired(path: path, object: WorkloadObjects.destinationRule(serviceName, metadata: [:], trafficPolicy: nil))
            _ = try await api.update(path, from: stored) { WorkloadObjects.align(&$0, with: withdrawn, workload: workload) }
        }
    }

    /// The target's revision: its pod template and what its ConfigMaps and Secrets hold now.
    func revision(of target: JSONValue, namespace: String) async throws -> String {
        let references = WorkloadObjects.referencedConfigs(of: target)
        var configs: [String: JSONValue?] = [:]
        for (kind, names, path) in [
            ("ConfigMap", references.configMaps, { ResourcePath.configMap(namespace: namespace, name: $0) }),
            ("Secret", references.secrets, { ResourcePath.secret(namespace: namespace, name: $0) }),
        ] as [(String, [String], (String) -> ResourcePath)] {
            for name in names {
                do {
                    configs["\(kind)/\(name)"] = .some(try await api.get(path(name)))
                } catch let error as KubernetesAPIError where error.isNotFound {
                    configs["\(kind)/\(name)"] = .some(nil)
                }
            }
        }
        return WorkloadObjects.revision(of: target, configs: configs)
    }

    public func scale(_ scaling: WorkloadScaling) async throws {
        var replicas = 0
        if scaling.size == .likePrimary {
            let primary = try await api.get(.deployment(namespace: scaling.primary.namespace, name: scaling.primary.name))
            replicas = max(1, primary["spec"]?["replicas"]?.intValue ?? 1)
        }
        _ = try await api.patch(
            .deployment(namespace: scaling.target.namespace, name: scaling.target.name),
            [.add(path: ["spec", "replicas"], value: .number(Double(replicas)))]
        )
        guard scaling.size == .zero else { return }
        // The release is over: the primary forgets the count, its autoscaler gets its own floor back.
        let primaryPath = ResourcePath.deployment(namespace: scaling.primary.namespace, name: scaling.primary.name)
        let primary = try await api.get(primaryPath)
        if let needed = primary["metadata"]?["annotations"]?[Self.neededAnnotation] {
            let path: JSONPointer = ["metadata", "annotations", Self.neededAnnotation]
            _ = try await api.patch(primaryPath, [.test(path: path, value: needed), .remove(path: path)])
        }
        if let autoscaler = scaling.primaryAutoscaler { try await restoreFloor(of: autoscaler) }
    }

    public func promote(_ promotion: WorkloadPromotion) async -> WorkloadState {
        let primaryPath = ResourcePath.deployment(namespace: promotion.primary.namespace, name: promotion.primary.name)
        do {
            guard promotion.purpose == .promotion else {
                return Self.readiness(of: try await api.get(primaryPath), readyThreshold: promotion.readyThreshold)
            }
            let target = try await api.get(.deployment(namespace: promotion.target.namespace, name: promotion.target.name))
            var fields = WorkloadObjects.primaryTemplate(of: target)["spec"]?["template"]?.objectValue ?? [:]
            // A release of ConfigMap or Secret content alone leaves the template as it was: the revision on it makes
            // the primary roll its pods, which then read the new content (environment variables only at start).
            if let revision = promotion.revision { fields["metadata"] = .annotating(fields["metadata"], Self.revisionAnnotation, revision) }
            let template = JSONValue.object(fields)
            let primary = try await api.update(primaryPath) { fields in
                guard case .object(var spec)? = fields["spec"] else {
                    throw KubernetesWorkloadsError(message: "Deployment \(promotion.primary) has no spec")
                }
                guard spec["template"] != template else { return false }
                spec["template"] = template
                if let autoscaler = promotion.primaryAutoscaler {
                    // Traffic returns to the primary all at once; its autoscaler scaled it for its share alone.
                    let needed = try await raiseFloor(
                        of: autoscaler, to: Self.readyReplicas(of: .object(fields)) + Self.readyReplicas(of: target))
                    spec["replicas"] = .number(Double(max(spec["replicas"]?.intValue ?? 1, needed)))
                    fields["metadata"] = .annotating(fields["metadata"], Self.neededAnnotation, String(needed))
                }
                fields["spec"] = .object(spec)
                return true
            }
            return Self.readiness(of: primary, readyThreshold: promotion.readyThreshold)
        } catch {
            return WorkloadState(ready: false, reason: "cannot copy \(promotion.target.name)'s template to \(promotion.primary.name): \(error)")
        }
    }

    /// On the primary's pod template: the revision it was promoted to.
    static let revisionAnnotation = "serin.dev/revision"
    /// On the primary: the ready replicas it must have before all traffic returns to it, when it has an autoscaler.
    static let neededAnnotation = "serin.dev/promotion-ready-replicas"
    /// On the primary's HorizontalPodAutoscaler: its `minReplicas` before a promotion raised it.
    static let floorAnnotation = "serin.dev/min-replicas"

    /// Ready to take all traffic: rolled out (`kubectl rollout status`'s rules) and, after a promotion with an
    /// autoscaler, at least as many ready replicas as primary and target served together. `readyThreshold`
    /// (`analysis.primaryReadyThreshold`): the percentage of its updated replicas that must be available, and of
    /// that count that must be ready.
    static func readiness(of primary: JSONValue, readyThreshold: Int) -> WorkloadState {
        let state = KubernetesWorkloadReadiness.state(of: primary, readyThreshold: readyThreshold)
        guard state.ready, let served = primary["metadata"]?["annotations"]?[neededAnnotation]?.stringValue.flatMap({ Int($0) }) else {
            return state
        }
        let needed = KubernetesWorkloadReadiness.share(readyThreshold, of: served)
        let ready = readyReplicas(of: primary)
        guard ready >= needed else {
            let what = readyThreshold < 100 ? "\(readyThreshold)% of the \(served)" : "as many as"
            return WorkloadState(ready: false, reason: "\(ready) of \(needed) replicas ready, \(what) the primary and the canary served together")
        }
        return state
    }

    static func readyReplicas(of deployment: JSONValue) -> Int { deployment["status"]?["readyReplicas"]?.intValue ?? 0 }

    /// Raises the primary autoscaler's `minReplicas` to `wanted` (at most its `maxReplicas`), remembering the floor
    /// it had; returns the floor now in force.
    private func raiseFloor(of autoscaler: ResourceName, to wanted: Int) async throws -> Int {
        var inForce = wanted
        _ = try await api.update(.autoscaler(namespace: autoscaler.namespace, name: autoscaler.name)) { fields in
            guard case .object(var spec)? = fields["spec"] else {
                throw KubernetesWorkloadsError(message: "HorizontalPodAutoscaler \(autoscaler) has no spec")
            }
            let floor = spec["minReplicas"]?.intValue ?? 1
            inForce = min(max(floor, wanted), spec["maxReplicas"]?.intValue ?? wanted)
            guard inForce > floor else {
                inForce = floor
                return false
            }
            if fields["metadata"]?["annotations"]?[Self.floorAnnotation] == nil {
                fields["metadata"] = .annotating(fields["metadata"], Self.floorAnnotation, String(floor))
            }
            spec["minReplicas"] = .number(Double(inForce))
            fields["spec"] = .object(spec)
            return true
        }
        return inForce
    }

    /// Gives the primary's autoscaler back the `minReplicas` it had before a promotion raised it.
    private func restoreFloor(of autoscaler: ResourceName) async throws {
        do {
            _ = try await api.update(.autoscaler(namespace: autoscaler.namespace, name: autoscaler.name)) { fields in
                guard case .object(var metadata)? = fields["metadata"], case .object(var annotations)? = metadata["annotations"],
                    let floor = annotations.removeValue(forKey: Self.floorAnnotation)?.stringValue.flatMap({ Int($0) }),
                    case .object(var spec)? = fields["spec"]
                else { return false }
                metadata["annotations"] = .object(annotations)
                fields["metadata"] = .object(metadata)
                spec["minReplicas"] = .number(Double(floor))
                fields["spec"] = .object(spec)
                return true
            }
        } catch let error as KubernetesAPIError where error.isNotFound {
            // The autoscaler is gone (its Canary was deleted): nothing to give back.
        }
    }
}

/// A workload object Serin cannot change as a release needs.
struct KubernetesWorkloadsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension ResourcePath {
    /// The collection an object is created in.
    var collection: ResourcePath {
        ResourcePath(groupVersion: groupVersion, resource: resource, namespace: namespace)
    }
}

/// The one part of a rollout stored on a Canary that `renamedServices` reads: the workload its routes were set up
/// for. Read alone, rather than the whole rollout with its history, on every sync of every Canary on a Deployment.
private struct StoredWorkload: Decodable {
    struct Spec: Decodable {
        var workload: CanaryWorkload?
    }

    var spec: Spec
}
