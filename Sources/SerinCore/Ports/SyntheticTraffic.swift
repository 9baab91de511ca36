/// Sends the synthetic load a rollout asks for (`analysis.load`), in the background: starting returns at once, and
/// a newer plan for a Canary replaces the one before. The embedded gateway sends it through its own upstreams and
/// counts it apart; where nothing can send it, the rollout is judged on live traffic alone.
public protocol SyntheticTraffic: Sendable {
    /// Send `plan` from now on, replacing the Canary's earlier plan.
    func start(_ plan: LoadPlan) async
    /// Stop the Canary's load; nothing to stop is fine.
    func stop(_ canary: ResourceName) async
}

/// No synthetic traffic: what a controller without a sender uses. The rollout still runs, judged on live traffic.
public struct NoSyntheticTraffic: SyntheticTraffic {
    public init() {}
    public func start(_ plan: LoadPlan) async {}
    public func stop(_ canary: ResourceName) async {}
}

/// Where synthetic requests go and how one is sent: the embedded gateway's upstreams, or plain HTTP to the
/// destinations' services in a cluster.
public protocol SyntheticRequestSender: Sendable {
    associatedtype Target: Sendable
    /// Where `destination`'s requests go now, or nil when nothing reaches it; asked again every second, as routes
    /// and endpoints change during a rollout.
    func target(for destination: Destination, of canary: ResourceName) -> Target?
    /// Sends one request for `path` with `headers` to `target` and returns without waiting for the answer.
    func send(to target: Target, path: String, headers: [(String, String)])
}
