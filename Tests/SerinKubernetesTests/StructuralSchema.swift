import SerinKubernetes

/// The part of a CustomResourceDefinition's structural OpenAPI v3 schema the API server checks on every write:
/// types, required fields, enums, ranges, items, maps, and unknown fields (which the API server prunes, and
/// `kubectl apply` reports). Enough to prove a manifest and the CRD agree without a cluster.
struct StructuralSchema {
    let schema: JSONValue

    /// Every problem with `value`, as `path: message`.
    func problems(in value: JSONValue, path: String = "") -> [String] {
        var problems: [String] = []
        check(value, against: schema, path: path.isEmpty ? "." : path, into: &problems)
        return problems
    }

    private func check(_ value: JSONValue, against schema: JSONValue, path: String, into problems: inout [String]) {
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            problems.append("\(path): \(value) is not one of \(JSONValue.array(allowed))")
        }
        switch (schema["type"]?.stringValue, value) {
        case ("object", .object(let fields)):
            let properties = schema["properties"]
            for required in schema["required"]?.arrayValue ?? [] {
                if let name = required.stringValue, fields[name] == nil { problems.append("\(path): \(name) is required") }
            }
            for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
                let childPath = path == "." ? ".\(name)" : "\(path).\(name)"
                if let property = properties?[name] {
                    check(field, against: property, path: childPath, into: &problems)
                } else if let additional = schema["additionalProperties"] {
                    check(field, against: additional, path: childPath, into: &problems)
                } else if properties != nil, schema["x-kubernetes-preserve-unknown-fields"] != .bool(true) {
                    problems.append("\(childPath): unknown field")
                }
            }
        case ("array", .array(let items)):
            guard let itemSchema = schema["items"] else { return }
            for (index, item) in items.enumerated() { check(item, against: itemSchema, path: "\(path)[\(index)]", into: &problems) }
        case ("string", .string):
            break
        case ("boolean", .bool):
            break
        case ("integer", .number(let number)) where number.rounded() == number, ("number", .number(let number)):
            if let minimum = schema["minimum"], case .number(let bound) = minimum, number < bound {
                problems.append("\(path): \(value) is less than the minimum \(minimum)")
            }
            if let maximum = schema["maximum"], case .number(let bound) = maximum, number > bound {
                problems.append("\(path): \(value) is more than the maximum \(maximum)")
            }
        case (let type?, _):
            problems.append("\(path): expected \(type), got \(value.kindName)")
        case (nil, _):
            break
        }
    }
}
