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
    /// Whether it says what the weights set just before it in the same step do (`advance canary weight to 20%`,
    /// `promotion: canary weight 60%`): true only once the router has applied them, so a log says it then. How the event
    /// is told, not what happened: neither stored nor compared.
    public var describesWeights: Bool

    public init(instant: RolloutInstant, severity: Severity, message: String, describesWeights: Bool = false) {
        self.instant = instant
        self.severity = severity
        self.message = message
        self.describesWeights = describesWeights
    }

    public var description: String { "\(instant) \(severity.rawValue) \(message)" }

    enum CodingKeys: String, CodingKey {
        case instant, severity, message
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            instant: try container.decode(RolloutInstant.self, forKey: .instant),
            severity: try container.decode(Severity.self, forKey: .severity),
            message: try container.decode(String.self, forKey: .message))
    }

    public static func == (lhs: RolloutEvent, rhs: RolloutEvent) -> Bool {
        lhs.instant == rhs.instant && lhs.severity == rhs.severity && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(instant)
        hasher.combine(severity)
        hasher.combine(message)
    }
}
