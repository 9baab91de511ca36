import Yams

/// How a plain scalar's type is told (`5` an integer, `true` a boolean, `web` a string), as Yams' default resolver
/// tells it, at a fraction of the cost. The default tries each of its seven rules, a regular expression each, on
/// every plain scalar; on Linux each evaluation costs far more than its pattern, and nearly every scalar in a
/// manifest is a string that fails all seven: a third of start-up with 10,000 resources. Here a plain scalar is
/// tried once, against all seven rules joined, and only the few that match (numbers, booleans, nulls) are told
/// apart by the rules one by one, on first read (`Node.tagName`).
enum ScalarTags {
    /// What a plain scalar matching one of the default rules resolves to, until `Node.tagName` says which.
    static let notString = Tag.Name(rawValue: "tag:serin.dev,2026:not-str")

    /// The parser's resolver: the default rules as one.
    static let resolver: Resolver = {
        let alternatives = Resolver.default.rules.map { rule in
            // Each default pattern is `^(?:…)$`: its body, to be joined with the others between one pair of anchors.
            String(rule.pattern.dropFirst(rule.pattern.hasPrefix("^") ? 1 : 0).dropLast(rule.pattern.hasSuffix("$") ? 1 : 0))
        }
        do {
            return try Resolver.basic.appending(notString, "^(?:" + alternatives.joined(separator: "|") + ")$")
        } catch {
            return .default
        }
    }()

    /// The tag Yams' default resolver gives a plain scalar of `text`.
    static func defaultTag(of text: String) -> Tag.Name {
        Resolver.default.resolveTag(of: Node.scalar(Node.Scalar(text)))
    }
}
