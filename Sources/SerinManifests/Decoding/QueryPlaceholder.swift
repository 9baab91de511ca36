import SerinCore

/// One `{{ ... }}` of a MetricTemplate's query, read the way Serin renders queries (SerinPrometheus'
/// `QueryTemplate`): a bare name, whitespace inside the braces allowed. Read at decode time so a typo
/// is an error in `serin validate`, not a failed check in the middle of a rollout.
enum QueryPlaceholder: Hashable {
    /// `name`, `namespace`, `target`, `service`, `ingress`, `route` or `interval`: filled from the Canary being analysed.
    case builtIn(String)
    /// `variables.NAME`: filled from the referencing metric's `templateVariables`.
    case variable(String)
    /// Any other name, as written between the braces (trimmed).
    case unknown(String)
    /// A `{{` with no `}}` after it.
    case unclosed

    static let builtInNames = Set(MetricTemplateSpec.builtInVariables)

    /// The valid names, for messages.
    static let validNames = MetricTemplateSpec.builtInVariables.joined(separator: ", ") + " or variables.NAME"

    private static let variablePrefix = "variables."

    /// The placeholders of `query` in order; an unclosed one ends the scan, as it ends rendering.
    static func all(in query: String) -> [QueryPlaceholder] { located(in: query).map(\.placeholder) }

    /// The placeholders of `query` in order, each with where its `{{` is.
    static func located(in query: String) -> [(placeholder: QueryPlaceholder, at: String.Index)] {
        var placeholders: [(placeholder: QueryPlaceholder, at: String.Index)] = []
        var rest = Substring(query)
        while let open = rest.firstRange(of: "{{") {
            let inside = rest[open.upperBound...]
            guard let close = inside.firstRange(of: "}}") else {
                placeholders.append((.unclosed, open.lowerBound))
                break
            }
            placeholders.append((QueryPlaceholder(name: trimmed(inside[..<close.lowerBound])), open.lowerBound))
            rest = inside[close.upperBound...]
        }
        return placeholders
    }

    private init(name: String) {
        if Self.builtInNames.contains(name) {
            self = .builtIn(name)
        } else if name.hasPrefix(Self.variablePrefix), name.count > Self.variablePrefix.count {
            self = .variable(String(name.dropFirst(Self.variablePrefix.count)))
        } else {
            self = .unknown(name)
        }
    }

    /// Spaces, tabs and newlines are trimmed, as the renderer trims them.
    private static func trimmed(_ text: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
