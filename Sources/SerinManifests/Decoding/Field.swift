import Yams

/// A YAML node and its field path (`spec.http[0].route`), the unit decoding works on.
struct Field {
    let node: Node
    let path: String

    /// The field for `key` of this mapping.
    func child(_ key: String, _ node: Node) -> Field {
        Field(node: node, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// The field for entry `index` of this list.
    func element(_ index: Int, _ node: Node) -> Field {
        Field(node: node, path: "\(path)[\(index)]")
    }

    /// The path of the field holding the one at `path`: `spec.http[0]` for `spec.http[0].route`,
    /// `spec.http` for `spec.http[0]`, empty for a top-level field, nil for the document itself.
    static func parent(of path: String) -> String? {
        guard !path.isEmpty else { return nil }
        if path.hasSuffix("]"), let open = path.lastIndex(of: "[") { return String(path[..<open]) }
        if let dot = path.lastIndex(of: ".") { return String(path[..<dot]) }
        return ""
    }

    /// The path of a child that may not exist, for "is required" messages.
    func path(of key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}

extension Node {
    /// The resolved YAML tag (`str`, `int`, `bool`...), as Yams' default resolver gives it: quoted scalars are always
    /// strings. The parser tells plain strings from the rest in one pass (`ScalarTags`); the rest are told apart here.
    var tagName: Tag.Name {
        let name = Tag.Name(rawValue: tag.rawValue)
        guard name == ScalarTags.notString, case .scalar(let scalar) = self else { return name }
        return ScalarTags.defaultTag(of: scalar.string)
    }

    /// What a value is, for "expected X, got Y" messages: `string "ten"`, `integer 5`, `a list`.
    var valueDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch tagName {
            case .str: return "string \"\(scalar.string)\""
            case .int: return "integer \(scalar.string)"
            case .float: return "number \(scalar.string)"
            case .bool: return "boolean \(scalar.string)"
            case .null: return "null"
            default: return "\"\(scalar.string)\""
            }
        }
    }

    /// Whether this is an empty document or an explicit `null`/`~` value.
    var isNull: Bool {
        if case .scalar = self { return tagName == .null }
        return false
    }
}
