/// Whether a canary Deployment is fully rolled out and available, before the rollout gives it more traffic.
/// Kubernetes: the Deployment's status; embedded mode runs no Deployments, so there is nothing to wait for.
/// `readyThreshold`: the percentage of its updated replicas that must be available (Flagger's ready thresholds).
public protocol WorkloadReadiness: Sendable {
    func readiness(of deployment: ResourceName, readyThreshold: Int) async -> WorkloadState
}

extension WorkloadReadiness {
    /// Ready with every updated replica available.
    public func readiness(of deployment: ResourceName) async -> WorkloadState {
        await readiness(of: deployment, readyThreshold: AnalysisSpec.defaultReadyThreshold)
    }
}

/// A Deployment's readiness, with what a person should read when it is not ready.
public struct WorkloadState: Hashable, Sendable {
    public var ready: Bool
    public var reason: String
    /// Not ready, and waiting will not change that: its rollout exceeded its progress deadline (Kubernetes'
    /// `ProgressDeadlineExceeded`), which Flagger treats as a failure at once rather than a wait.
    public var stalled: Bool

    public init(ready: Bool, reason: String, stalled: Bool = false) {
        self.ready = ready
        self.reason = reason
        self.stalled = stalled
    }
}

/// Flagger's shape on the platform: scales the target Deployment and copies its pod template to the primary.
public protocol WorkloadManager: Sendable {
    func scale(_ scaling: WorkloadScaling) async throws
    /// Copies the target's pod template to the primary; says whether the primary has rolled it out yet.
    func promote(_ promotion: WorkloadPromotion) async -> WorkloadState
    /// Why a Canary on `deployment` cannot run here at all, or nil when it can.
    func refusal(ofCanaryOn deployment: String) -> String?
}

extension WorkloadManager {
    public func refusal(ofCanaryOn deployment: String) -> String? { nil }
}

/// Embedded mode: no Deployment runs, so every one is as ready as it will get, and none can be managed.
public struct NoWorkloads: WorkloadReadiness, WorkloadManager {
    public init() {}
    public func readiness(of deployment: ResourceName, readyThreshold: Int) async -> WorkloadState {
        WorkloadState(ready: true, reason: "embedded mode runs no Deployments")
    }

    public func scale(_ scaling: WorkloadScaling) async throws {
        throw NoDeployments()
    }

    public func promote(_ promotion: WorkloadPromotion) async -> WorkloadState {
        WorkloadState(ready: false, reason: "embedded mode runs no Deployments; a Canary on a Deployment needs serin controller")
    }

    /// A Canary whose target is a Deployment is refused whole: nothing here would create, scale or promote it.
    public func refusal(ofCanaryOn deployment: String) -> String? {
        "targetRef is Deployment \(deployment): Serin creates and scales Deployments only on Kubernetes "
            + "(serin controller); on this gateway, point targetRef at a VirtualService with stable and canary destinations"
    }

    struct NoDeployments: Error, CustomStringConvertible {
        var description: String { "embedded mode runs no Deployments; a Canary on a Deployment needs serin controller" }
    }
}
