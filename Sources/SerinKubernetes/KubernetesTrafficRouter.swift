import SerinCore

/// Moves a rollout's weights in Istio's VirtualService through the Kubernetes API: reads the object, computes
/// the guarded JSON Patch on it (`VirtualServiceWeightPatch`), and sends it. When someone else changed the
/// routes in between, the API server refuses the patch whole; the router reads again and recomputes on top of
/// their change, a few times, and never overwrites it.
public struct KubernetesTrafficRouter: TrafficRouter {
    private let api: any KubernetesAPI
    private let attempts: Int

    public init(api: any KubernetesAPI, attempts: Int = 5) {
        self.api = api
        self.attempts = max(1, attempts)
    }

    /// Why the weights could not be set.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let message: String
        /// The VirtualService does not exist.
        public let isMissing: Bool
        public init(message: String, isMissing: Bool = false) {
            self.message = message
            self.isMissing = isMissing
        }
        public var description: String { message }
    }

    public func servingRoutes(for canary: CanarySpec) async throws -> ServingRoutes {
        let path = ResourcePath.virtualService(namespace: canary.targetRef.namespace, name: canary.targetRef.name)
        do {
            return try VirtualServiceWeightPatch.servingRoutes(of: try await api.get(path), name: canary.targetRef)
        } catch let error as KubernetesAPIError where error.isNotFound {
            throw Failure(message: "VirtualService \(canary.targetRef) does not exist", isMissing: true)
        } catch let failure as VirtualServiceWeightPatch.Failure {
            throw Failure(message: failure.description)
        }
    }

    public func setWeights(for canary: CanarySpec, _ split: TrafficSplit) async throws {
        let path = ResourcePath.virtualService(namespace: canary.targetRef.namespace, name: canary.targetRef.name)
        for attempt in 1...attempts {
            let current: JSONValue
            do {
                current = try await api.get(path)
            } catch let error as KubernetesAPIError where error.isNotFound {
                throw Failure(message: "VirtualService \(canary.targetRef) does not exist", isMissing: true)
            }
            let operations: [JSONPatchOperation]
            do {
                operations = try VirtualServiceWeightPatch.operations(for: current, split: split)
            } catch let failure as VirtualServiceWeightPatch.Failure {
                throw Failure(message: failure.description)
            }
            guard !operations.isEmpty else { return }
            do {
                _ = try await api.patch(path, operations)
                return
            } catch let error as KubernetesAPIError where error.isConflict {
                guard attempt < attempts else {
                    throw Failure(
                        message: "VirtualService \(canary.targetRef) changed under every one of \(attempts) attempts to set the weights: \(error.message)"
                    )
                }
            }
        }
    }
}
