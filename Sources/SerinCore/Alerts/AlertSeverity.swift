/// How loud an alert is (Flagger's `analysis.alerts[].severity`): an alert admits the events at its level and
/// above, so `info` hears everything, `warn` halts and rollbacks, `error` only rollbacks.
public enum AlertSeverity: String, Hashable, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case info, warn, error

    /// Whether an alert of this severity is sent an event of severity `event` (Flagger's filter).
    public func admits(_ event: AlertSeverity) -> Bool { event >= self }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public var description: String { rawValue }
}
