/// `analysis.load`: traffic Serin sends itself so a service with few or no users can still be judged. While the
/// canary is analysed, each interval sends `rps` requests a second for `duration` to the canary and to the stable,
/// to those two destinations only; the gateway counts them apart (`request_kind="synthetic"`) and the judge reads
/// them with the live requests. The rate is capped, so a Canary cannot turn Serin into a load generator.
public struct SyntheticLoad: Hashable, Sendable, Codable {
    /// The most requests a second sent to each destination.
    public static let maximumRPS: Double = 100

    /// Requests a second to each of canary and stable.
    public var rps: Double
    /// The path (and query) each request asks for; always origin-form (`/…`), never another host.
    public var path: String
    /// Headers sent with each request (never `Host`: the destination decides it).
    public var headers: [String: String]
    /// How long the load runs in each interval; nil: the whole interval.
    public var duration: Duration?

    public init(rps: Double, path: String = "/", headers: [String: String] = [:], duration: Duration? = nil) {
        self.rps = rps
        self.path = path
        self.headers = headers
        self.duration = duration
    }
}

/// The synthetic load a rollout asks for while its canary is analysed: where to send, what, how fast, and for how
/// long in each interval. It runs until the rollout stops it (`RolloutAction.stopLoad`); a newer plan for the same
/// Canary replaces the one before.
public struct LoadPlan: Hashable, Sendable {
    public var canaryName: ResourceName
    public var canary: Destination
    public var stable: Destination
    public var load: SyntheticLoad
    /// The analysis interval: the load starts again each interval.
    public var interval: Duration
    /// How long to send in each interval: the load's duration, never past the interval.
    public var duration: Duration

    public init(
        canaryName: ResourceName, canary: Destination, stable: Destination, load: SyntheticLoad, interval: Duration, duration: Duration
    ) {
        self.interval = interval
        self.canaryName = canaryName
        self.canary = canary
        self.stable = stable
        self.load = load
        self.duration = duration
    }

    /// The requests the plan sends to each destination in one interval, at most.
    public var requestsPerInterval: Int {
        Int((load.rps * duration.inSeconds).rounded(.up))
    }
}
