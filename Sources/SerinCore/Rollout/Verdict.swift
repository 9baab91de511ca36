/// What one analysis decided, with the reason a person reads; a decision is never a bare `Bool`.
public enum Verdict: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Every check held: the rollout may advance.
    case pass
    /// A check failed: counts towards the rollback threshold.
    case fail(reason: String)
    /// Not enough data to decide (too few requests, no values): the rollout holds, neither advancing nor failing.
    case inconclusive(reason: String)

    /// `pass`, `fail` or `inconclusive`: the verdict without its reason.
    public var outcome: Outcome {
        switch self {
        case .pass: .pass
        case .fail: .fail
        case .inconclusive: .inconclusive
        }
    }

    /// The reason a person reads; nil for a pass.
    public var reason: String? {
        switch self {
        case .pass: nil
        case .fail(let reason), .inconclusive(let reason): reason
        }
    }

    /// The three kinds of verdict, as stored and as the API names them.
    public enum Outcome: String, Hashable, Sendable, Codable {
        case pass, fail, inconclusive
    }

    /// The verdict from its stored parts; a missing reason reads as empty.
    public init(outcome: Outcome, reason: String?) {
        switch outcome {
        case .pass: self = .pass
        case .fail: self = .fail(reason: reason ?? "")
        case .inconclusive: self = .inconclusive(reason: reason ?? "")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case verdict, reason
    }

    /// `{"verdict": "fail", "reason": "..."}`: data a reader need not parse.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(outcome: try container.decode(Outcome.self, forKey: .verdict), reason: try container.decodeIfPresent(String.self, forKey: .reason))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(outcome, forKey: .verdict)
        try container.encodeIfPresent(reason, forKey: .reason)
    }

    public var description: String {
        switch self {
        case .pass: return "pass"
        case .fail(let reason): return "fail: \(reason)"
        case .inconclusive(let reason): return "inconclusive: \(reason)"
        }
    }
}
