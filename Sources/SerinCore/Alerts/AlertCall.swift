/// One alert to post: which alert (and so which provider) and what happened, with the numbers a person needs to
/// act without opening a dashboard. Built by the rollout for each event an alert's severity admits.
public struct AlertCall: Hashable, Sendable {
    public var alert: AlertSpec
    /// The event's severity: `error` for a rollback, `warn` for a halt or another warning, `info` for the rest.
    public var severity: AlertSeverity
    /// The Canary's name and namespace.
    public var canary: ResourceName
    /// The event as recorded: `web: rolled back: request-success-rate 67.90% < 99% (canary web-v2-service, 1m, 112 requests) (2/2 failed checks)`.
    public var message: String
    public var instant: RolloutInstant
    public var phase: RolloutPhase
    public var canaryWeight: Int
    public var stableWeight: Int
    /// The release: what is tried and what serves.
    public var canaryDestination: Destination
    public var stableDestination: Destination
    public var failedChecks: Int
    /// `analysis.threshold`: failed checks that roll back.
    public var threshold: Int

    public init(
        alert: AlertSpec, severity: AlertSeverity, canary: ResourceName, message: String, instant: RolloutInstant,
        phase: RolloutPhase, canaryWeight: Int, stableWeight: Int, canaryDestination: Destination, stableDestination: Destination,
        failedChecks: Int, threshold: Int
    ) {
        self.alert = alert
        self.severity = severity
        self.canary = canary
        self.message = message
        self.instant = instant
        self.phase = phase
        self.canaryWeight = canaryWeight
        self.stableWeight = stableWeight
        self.canaryDestination = canaryDestination
        self.stableDestination = stableDestination
        self.failedChecks = failedChecks
        self.threshold = threshold
    }

    /// The facts chat payloads list under the message, in this order (Flagger's alert `fields`).
    public var facts: [(name: String, value: String)] {
        [
            ("Canary", canaryDestination.description), ("Stable", stableDestination.description),
            ("Phase", phase.rawValue), ("Traffic", "canary \(canaryWeight)%, stable \(stableWeight)%"),
            ("Failed checks", "\(failedChecks)/\(threshold)"),
        ]
    }
}
