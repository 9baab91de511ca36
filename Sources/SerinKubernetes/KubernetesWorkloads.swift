import SerinController
import SerinCore

/// Flagger's shape on a cluster: before the controller sees a Canary on a Deployment, its revision is read from
/// the target (pod template and the ConfigMaps and Secrets it uses) and the objects Serin owns are created when
/// missing (`WorkloadObjects`); during a release the target is scaled and the primary gets the target's template.
/// An object of the same name that Serin did not create for this Canary is never overwritten: that is an error
/// naming it.
public struct KubernetesWorkloads: WorkloadManager {
    private let api: any KubernetesAPI
    private let attempts = 5

    public init(api: any KubernetesAPI) {
        self.api = api
    }

    /// `spec` with its workload's revision filled in, after creating what the Canary needs and is missing.
    /// `canary` is the Canary object as the cluster holds it (its uid owns what is created; its `spec.service`
    /// is copied as written).
    public func prepare(_ spec: CanarySpec, canary: JSONValue) async -> Result<CanarySpec, CanaryWatcher.Problem> {
        guard var workload = spec.workload else { return .success(spec) }
        let namespace = spec.name.namespace
        let label = "Canary \(spec.name)"
        do {
            let target: JSONValue
            do {
                target = try await api.get(.deployment(namespace: namespace, name: workload.deployment))
            } catch let error as KubernetesAPIError where error.isNotFound {
                return .failure(.init(message: "\(label): its target Deployment \(namespace)/\(workload.deployment) does not exist"))
            }
            var autoscaler: JSONValue?
            if let name = workload.autoscaler {
                do {
                    autoscaler = try await api.get(.autoscaler(namespace: namespace, name: name))
                } catch let error as KubernetesAPIError where error.isNotFound {
                    return .failure(.init(message: "\(label): its autoscalerRef HorizontalPodAutoscaler \(namespace)/\(name) does not exist"))
                }
            }
            workload.revision = try await revision(of: target, namespace: namespace)
            let uid = canary["metadata"]?["uid"]?.stringValue ?? ""
            let desired = WorkloadObjects.desired(
                canary: canary, workload: workload, target: target, service: canary["spec"]?["service"] ?? [:], autoscaler: autoscaler)
            for object in desired {
                do {
                    let existing = try await api.get(object.path)
                    guard WorkloadObjects.isOwned(existing, byCanaryWithUID: uid) else {
                        return .failure(.init(message:
                            "\(label): \(object.object["kind"]?.stringValue ?? "object") \(namespace)/\(object.path.name ?? "") exists and "
                                + "was not created by Serin for this Canary; Serin never overwrites it (delete or rename it)"))
                    }
                } catch let error as KubernetesAPIError where error.isNotFound {
                    _ = try await api.create(object.path.collection, object.object)
                }
            }
        } catch {
            return .failure(.init(message: "\(label): cannot prepare its Deployment's primary, Services and VirtualService: \(error)"))
        }
        var prepared = spec
        prepared.workload = workload
        return .success(prepared)
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
    }

    public func promote(_ promotion: WorkloadPromotion) async -> WorkloadState {
        let primaryPath = ResourcePath.deployment(namespace: promotion.primary.namespace, name: promotion.primary.name)
        do {
            let target = try await api.get(.deployment(namespace: promotion.target.namespace, name: promotion.target.name))
            let template = WorkloadObjects.primaryTemplate(of: target)["spec"]?["template"] ?? [:]
            for attempt in 1...attempts {
                var primary = try await api.get(primaryPath)
                guard primary["spec"]?["template"] != template else {
                    return KubernetesWorkloadReadiness.state(of: primary)
                }
                guard case .object(var fields) = primary, case .object(var spec)? = fields["spec"] else {
                    return WorkloadState(ready: false, reason: "Deployment \(promotion.primary) has no spec")
                }
                spec["template"] = template
                fields["spec"] = .object(spec)
                do {
                    primary = try await api.replace(primaryPath, .object(fields))
                    return KubernetesWorkloadReadiness.state(of: primary)
                } catch let error as KubernetesAPIError where error.isConflict && attempt < attempts {
                    continue
                }
            }
            return WorkloadState(ready: false, reason: "Deployment \(promotion.primary) kept changing while its template was copied")
        } catch {
            return WorkloadState(ready: false, reason: "cannot copy \(promotion.target.name)'s template to \(promotion.primary.name): \(error)")
        }
    }
}

extension ResourcePath {
    /// The collection an object is created in.
    var collection: ResourcePath {
        ResourcePath(groupVersion: groupVersion, resource: resource, namespace: namespace)
    }
}
