/// What one analysis decided, with the reason a person reads; a decision is never a bare `Bool`.
public enum Verdict: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Every check held: the rollout may advance.
    case pass
    /// A check failed: counts towards the rollback threshold.
    case fail(reason: String)
    /// Not enough data to decide (too few requests, no values): the rollout holds, neither advancing nor failing.
    case inconclusive(reason: String)

    public var description: String {
        switch self {
        case .pass: return "pass"
        case .fail(let reason): return "fail: \(reason)"
        case .inconclusive(let reason): return "inconclusive: \(reason)"
        }
    }
}
