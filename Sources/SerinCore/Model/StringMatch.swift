/// How one request attribute (path, method, a header...) must look, as Istio's `StringMatch`.
public enum StringMatch: Hashable, Sendable {
    case exact(String)
    case prefix(String)
    /// RE2-style pattern that must match the whole value.
    case regex(RegexPattern)
    /// The attribute only has to be present (Istio: a header with an empty match).
    case present

    /// Whether `value` satisfies the match; `ignoreCase` applies to exact and prefix, as in Envoy.
    public func matches(_ value: String, ignoreCase: Bool = false) -> Bool {
        switch self {
        case .exact(let expected):
            return ignoreCase ? value.lowercased() == expected.lowercased() : value == expected
        case .prefix(let expected):
            return ignoreCase ? value.lowercased().hasPrefix(expected.lowercased()) : value.hasPrefix(expected)
        case .regex(let pattern):
            return pattern.matchesWhole(value)
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
