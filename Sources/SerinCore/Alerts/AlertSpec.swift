/// One entry of a Canary's `analysis.alerts` (Flagger's `CanaryAlert`): which AlertProvider hears this Canary's
/// events, and from which severity on.
public struct AlertSpec: Hashable, Sendable, Codable {
    /// The alert's name, as logs and `serin status` say it (`on-call Slack`).
    public var name: String
    public var severity: AlertSeverity
    /// `providerRef`: the AlertProvider, in the Canary's namespace unless the reference names another.
    public var provider: ResourceName

    public init(name: String, severity: AlertSeverity = .info, provider: ResourceName) {
        self.name = name
        self.severity = severity
        self.provider = provider
    }
}
