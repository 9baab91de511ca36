/// Moves traffic for a rollout: gives the routes the Canary owns their stable and canary destinations and
/// weights, and reads the routes to tell what serves. Embedded: the gateway's VirtualService; Kubernetes: Istio's.
public protocol TrafficRouter: Sendable {
    /// Applies `split` to the routes of the Canary's VirtualService that it owns (`TrafficSplit.owns`).
    func setWeights(for canary: CanarySpec, _ split: TrafficSplit) async throws
    /// The HTTP routes of the Canary's VirtualService as they are now.
    func servingRoutes(for canary: CanarySpec) async throws -> ServingRoutes
}
