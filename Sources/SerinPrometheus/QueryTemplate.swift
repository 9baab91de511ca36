/// A PromQL query with Flagger-style placeholders (`{{ namespace }}`, `{{ variables.NAME }}`), so users'
/// MetricTemplates and the built-in Istio queries render the same way.
///
/// Only bare names are understood, not Go template syntax: rendering fails on an unknown name instead of
/// leaving it empty, because an empty label value silently matches nothing and reads as "no data".
public struct QueryTemplate: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    /// The query with every `{{ name }}` (spaces inside the braces optional) replaced from `context`.
    public func render(_ context: QueryContext) throws(QueryTemplateError) -> String {
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            output += rest[..<open.lowerBound]
            let inside = rest[open.upperBound...]
            guard let close = inside.firstRange(of: "}}") else {
                throw .unclosedBraces(offset: text.distance(from: text.startIndex, to: open.lowerBound))
            }
            let name = String(inside[..<close.lowerBound]).trimmingSpaces()
            guard let value = context.value(of: name) else {
                throw .unknownVariable(name: name, known: context.knownNames)
            }
            output += value
            rest = inside[close.upperBound...]
        }
        output += rest
        return output
    }

    public var description: String { text }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
