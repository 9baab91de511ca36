import SerinCore

/// Moves traffic for a rollout: gives the routes the Canary owns their stable and canary destinations and
/// weights, and reads the routes to tell what serves. Embedded: the gateway's VirtualService; Kubernetes: Istio's.
public protocol TrafficRouter: Sendable {
    /// Applies `split` to the routes of the Canary's VirtualService that it owns (`TrafficSplit.owns`).
    func setWeights(for canary: CanarySpec, _ split: TrafficSplit) async throws
    /// The HTTP routes of the Canary's VirtualService as they are now.
    func servingRoutes(for canary: CanarySpec) async throws -> ServingRoutes
}

/// Collects the readings an analysis asks for (each metric over its own window).
public protocol MetricProvider: Sendable {
    func samples(for request: AnalysisRequest) async -> AnalysisSamples
}

/// Calls one webhook and says what it answered.
public protocol WebhookRunner: Sendable {
    func call(_ call: WebhookCall) async -> WebhookResult
}

/// Whether a canary Deployment is fully rolled out and available, before the rollout gives it more traffic.
/// Kubernetes: the Deployment's status; embedded mode runs no Deployments, so there is nothing to wait for.
public protocol WorkloadReadiness: Sendable {
    func readiness(of deployment: ResourceName) async -> WorkloadState
}

/// A Deployment's readiness, with what a person should read when it is not ready.
public struct WorkloadState: Hashable, Sendable {
    public var ready: Bool
    public var reason: String

    public init(ready: Bool, reason: String) {
        self.ready = ready
        self.reason = reason
    }
}

/// Embedded mode: no Deployment runs, so every one is as ready as it will get.
public struct NoWorkloads: WorkloadReadiness {
    public init() {}
    public func readiness(of deployment: ResourceName) async -> WorkloadState {
        WorkloadState(ready: true, reason: "embedded mode runs no Deployments")
    }
}

/// The controller's time: `now` for the state machine, and sleeping between ticks.
public protocol ControllerClock: Sendable {
    func now() -> RolloutInstant
    func sleep(for duration: Duration) async throws
}
