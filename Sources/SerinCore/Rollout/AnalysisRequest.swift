/// What the caller must measure and judge when the rollout asks for an analysis.
public struct AnalysisRequest: Hashable, Sendable {
    public var ticket: RolloutTicket
    /// The Canary being analysed.
    public var canaryName: ResourceName
    public var canary: Destination
    /// The workload serving the canary (a Deployment's name), as Istio's `destination_workload` names it and
    /// Flagger's `{{ target }}` renders; nil when not known yet (a metric provider may find it).
    public var canaryWorkload: String?
    /// Flagger's shape (`CanaryWorkload`): the Service clients call, `service.name` or else the target's name, which
    /// Flagger's `{{ service }}` renders; nil for a service pair.
    public var apexService: String?
    public var stable: Destination
    public var canaryWeight: Int
    /// Each with its own window; collect one `MetricReading` per check, keyed by its name.
    public var metrics: [MetricCheck]
    /// The judge the Canary names; with `statistical`, each traffic check's window is the whole step so far.
    public var judge: JudgeSettings
    /// Blue/green with mirroring: the canary serves only copies of requests, so its numbers are its mirrored
    /// traffic's (the gateway counts those apart from live requests).
    public var canaryMirrored: Bool

    public init(
        ticket: RolloutTicket, canaryName: ResourceName, canary: Destination, stable: Destination,
        canaryWeight: Int, metrics: [MetricCheck], canaryWorkload: String? = nil, judge: JudgeSettings = .threshold,
        canaryMirrored: Bool = false, apexService: String? = nil
    ) {
        self.canaryMirrored = canaryMirrored
        self.apexService = apexService
        self.judge = judge
        self.canaryWorkload = canaryWorkload
        self.ticket = ticket
        self.canaryName = canaryName
        self.canary = canary
        self.stable = stable
        self.canaryWeight = canaryWeight
        self.metrics = metrics
    }
}
