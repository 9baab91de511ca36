/// Why a `QueryTemplate` could not be rendered; the text names the variable or position and what was expected.
public enum QueryTemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A `{{` at this character offset has no `}}` after it.
    case unclosedBraces(offset: Int)
    /// The template uses a name the context does not define; `known` lists the names it does.
    case unknownVariable(name: String, known: [String])

    public var description: String {
        switch self {
        case .unclosedBraces(let offset):
            "query template: \"{{\" at character \(offset) is never closed with \"}}\""
        case .unknownVariable(let name, let known):
            "query template: unknown variable \"\(name)\", expected one of \(known.joined(separator: ", "))"
        }
    }
}
