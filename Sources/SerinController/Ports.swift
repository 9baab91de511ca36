import SerinCore

/// Moves traffic for a rollout: sets the weights of the stable and canary destinations on the
/// routes the Canary owns. Embedded: the gateway's VirtualService; Kubernetes: Istio's.
public protocol TrafficRouter: Sendable {
    func setWeights(for canary: CanarySpec, stable: WeightedDestination, canary canaryWeight: WeightedDestination) async throws
}

/// Collects the readings an analysis asks for (each metric over its own window).
public protocol MetricProvider: Sendable {
    func samples(for request: AnalysisRequest) async -> AnalysisSamples
}

/// Calls one webhook and says what it answered.
public protocol WebhookRunner: Sendable {
    func call(_ call: WebhookCall) async -> WebhookResult
}

/// The controller's time: `now` for the state machine, and sleeping between ticks.
public protocol ControllerClock: Sendable {
    func now() -> RolloutInstant
    func sleep(for duration: Duration) async throws
}
