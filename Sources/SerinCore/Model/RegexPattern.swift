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

    /// Compiles `source`; throws with the underlying parser's message when it is malformed, and when it is not RE2
    /// as Istio requires (`RE2Problem`): what istiod refuses is refused here too, not found at `kubectl apply`.
    public init(_ source: String) throws {
        if let problem = Self.re2Problem(source) { throw RE2Problem(description: problem) }
        self.compiled = Compiled(try Regex(source))
        self.source = source
    }

    /// Why a pattern Swift's regexes would take is not one for Istio, whose regexes are RE2 (validated by istiod,
    /// `regexp.Compile`) of at most 1,024 characters: lookaround, atomic groups, possessive quantifiers and
    /// backreferences, which RE2 has none of.
    public struct RE2Problem: Error, CustomStringConvertible {
        public let description: String
    }

    static func re2Problem(_ source: String) -> String? {
        let length = source.count
        if length > 1024 { return "it is \(length) characters long, more than the 1024 Istio allows" }
        let characters = Array(source)
        var index = 0
        var inClass = false
        var afterQuantifier = false
        func notRE2(_ what: String) -> String { "\(what) is not RE2, which Istio's regexes are" }
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                if !inClass, index + 1 < characters.count {
                    let next = characters[index + 1]
                    if let digit = next.wholeNumberValue, digit > 0 { return notRE2("the backreference \\\(next)") }
                    if next == "k", index + 2 < characters.count, characters[index + 2] == "<" { return notRE2("a named backreference \\k<…>") }
                }
                // `\p{Greek}`: its braces are a name, not a count.
                if index + 2 < characters.count, characters[index + 1] == "p" || characters[index + 1] == "P", characters[index + 2] == "{" {
                    index = (characters[(index + 2)...].firstIndex(of: "}") ?? characters.count - 1) + 1
                    afterQuantifier = false
                    continue
                }
                index += 2
                afterQuantifier = false
                continue
            }
            if inClass {
                if character == "]" { inClass = false }
                index += 1
                continue
            }
            switch character {
            case "[":
                inClass = true
                index += 1
                // A `]` first in a class (after `^`) is a literal one.
                if index < characters.count, characters[index] == "^" { index += 1 }
                if index < characters.count, characters[index] == "]" { index += 1 }
                afterQuantifier = false
                continue
            case "(" where index + 2 < characters.count && characters[index + 1] == "?":
                let kind = characters[index + 2]
                if kind == "=" || kind == "!" { return notRE2("the lookahead (?\(kind)") }
                if kind == "<", index + 3 < characters.count, characters[index + 3] == "=" || characters[index + 3] == "!" {
                    return notRE2("the lookbehind (?<\(characters[index + 3])")
                }
                if kind == ">" { return notRE2("the atomic group (?>") }
                afterQuantifier = false
            case "+" where afterQuantifier:
                return notRE2("a possessive quantifier (\(characters[index - 1])+)")
            case "*", "+", "?", "}":
                afterQuantifier = character != "?" || !afterQuantifier
            default:
                afterQuantifier = false
            }
            index += 1
        }
        return nil
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
