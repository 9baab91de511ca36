/// How one request attribute (path, method, a header...) must look, as Istio's `StringMatch`.
public enum StringMatch: Hashable, Sendable, Codable {
    case exact(String)
    case prefix(String)
    /// RE2-style pattern that must match the whole value.
    case regex(RegexPattern)
    /// The attribute only has to be present (Istio: a header with an empty match).
    case present

    /// Whether `value` satisfies the match, comparing bytes as Envoy does; `ignoreCase` (ASCII letters)
    /// applies to exact and prefix, as in Envoy.
    public func matches<S: StringProtocol>(_ value: S, ignoreCase: Bool = false) -> Bool {
        switch self {
        case .exact(let expected):
            return ASCII.equal(value.utf8, expected.utf8, ignoringCase: ignoreCase)
        case .prefix(let expected):
            return ASCII.hasPrefix(value.utf8, expected.utf8, ignoringCase: ignoreCase)
        case .regex(let pattern):
            return pattern.matchesWhole(String(value))
        case .present:
            return true
        }
    }
}

extension StringMatch: CustomStringConvertible {
    public var description: String {
        switch self {
        case .exact(let value): return "exact \(value)"
        case .prefix(let value): return "prefix \(value)"
        case .regex(let pattern): return "regex \(pattern.source)"
        case .present: return "present"
        }
    }
}
