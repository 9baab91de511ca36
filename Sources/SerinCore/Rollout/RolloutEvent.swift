/// Something a person should read about a rollout (`web: advance canary weight to 20%`), with when it happened.
public struct RolloutEvent: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Kubernetes event types: most events are normal; halts and rollbacks are warnings.
    public enum Severity: String, Hashable, Sendable, Codable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public var instant: RolloutInstant
    public var severity: Severity
    public var message: String

    public init(instant: RolloutInstant, severity: Severity, message: String) {
        self.instant = instant
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(instant) \(severity.rawValue) \(message)" }
}
