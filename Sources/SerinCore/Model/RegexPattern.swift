/// A compiled regular expression that compares and hashes by its source text,
/// so route tables holding one stay `Hashable` values.
public struct RegexPattern: Hashable, @unchecked Sendable {
    // Regex<AnyRegexOutput> is immutable once compiled; matching does not mutate it,
    // so sharing it across threads is safe even though the type is not declared Sendable.
    // Boxed: Regex comes from a resilient library, and holding it inline would make every `StringMatch`
    // copy go through runtime value witnesses on the routing path.
    private let compiled: Compiled
    public let source: String

    private final class Compiled: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
        init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    }

    /// Compiles `source`; throws with the underlying parser's message when it is malformed.
    public init(_ source: String) throws {
        self.compiled = Compiled(try Regex(source))
        self.source = source
    }

    /// RE2 semantics as Istio uses them: the pattern must match the entire value.
    public func matchesWhole(_ value: String) -> Bool {
        (try? compiled.regex.wholeMatch(in: value)) != nil
    }

    /// `value` with every match replaced by `substitution`, in which `\1`…`\9` stand for the match's groups (`\0` the
    /// whole match) and `\\` for a backslash, as RE2's substitutions (Envoy's `regex_rewrite`) read them.
    public func replacingMatches(in value: String, with substitution: String) -> String {
        value.replacing(compiled.regex) { match in
            var result = ""
            var characters = substitution.makeIterator()
            while let character = characters.next() {
                guard character == "\\" else {
                    result.append(character)
                    continue
                }
                guard let next = characters.next() else {
                    result.append(character)
                    break
                }
                if let group = next.wholeNumberValue, group < match.output.count {
                    result += match.output[group].substring.map(String.init) ?? ""
                } else {
                    result.append(next)
                }
            }
            return result
        }
    }

    public static func == (lhs: RegexPattern, rhs: RegexPattern) -> Bool { lhs.source == rhs.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }
}

extension RegexPattern: Codable {
    /// Stored as its source text and compiled again on reading.
    public init(from decoder: any Decoder) throws {
        let source = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(source)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid regex \"\(source)\": \(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(source)
    }
}
