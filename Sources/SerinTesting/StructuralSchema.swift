import Foundation
import SerinKubernetes
import Yams

/// The part of a CustomResourceDefinition's structural OpenAPI v3 schema the API server checks on every write:
/// types, required fields, enums, ranges, items, maps, and unknown fields (which the API server prunes, and
/// `kubectl apply` reports). Enough to prove a manifest and the CRD agree without a cluster, and for the API double
/// to prune and refuse what a real API server would.
public struct StructuralSchema: Sendable {
    public let schema: JSONValue

    public init(schema: JSONValue) {
        self.schema = schema
    }

    /// The first version's schema of the CustomResourceDefinition in `file` (a path under the repository's root).
    public static func ofCRD(_ file: String) throws -> StructuralSchema {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        let crd = try JSONValue(yaml: try Yams.load(yaml: text))
        guard let schema = crd["spec"]?["versions"]?[0]?["schema"]?["openAPIV3Schema"] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(file) has no spec.versions[0].schema.openAPIV3Schema"))
        }
        return StructuralSchema(schema: schema)
    }

    /// `value` as the API server stores it: every field the schema does not name dropped (kept where the schema says
    /// `x-kubernetes-preserve-unknown-fields`), and an object's `apiVersion`, `kind` and `metadata` always kept.
    public func pruned(_ value: JSONValue) -> JSONValue {
        guard case .object(var fields) = prune(value, against: schema) else { return value }
        for key in ["apiVersion", "kind", "metadata"] { fields[key] = value[key] }
        return .object(fields)
    }

    private func prune(_ value: JSONValue, against schema: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            let properties = schema["properties"]
            let preserves = schema["x-kubernetes-preserve-unknown-fields"] == .bool(true)
            var kept: [String: JSONValue] = [:]
            for (name, field) in fields {
                if let property = properties?[name] {
                    kept[name] = prune(field, against: property)
                } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
                    kept[name] = prune(field, against: additional)
                } else if preserves || (properties == nil && schema["additionalProperties"] == nil && schema["type"] == nil) {
                    kept[name] = field
                }
            }
            return .object(kept)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.map { prune($0, against: itemSchema) })
        default:
            return value
        }
    }

    /// Every problem with `value`, as `path: message`.
    public func problems(in value: JSONValue, path: String = "") -> [String] {
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

extension JSONValue {
    /// A value Yams loaded, as JSON.
    public init(yaml value: Any?) throws {
        switch value {
        case nil, is NSNull: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .number(Double(value))
        case let value as Double: self = .number(value)
        case let value as String: self = .string(value)
        case let value as [Any?]: self = .array(try value.map(JSONValue.init(yaml:)))
        case let value as [AnyHashable: Any?]:
            var fields: [String: JSONValue] = [:]
            for (key, item) in value { fields["\(key)"] = try JSONValue(yaml: item) }
            self = .object(fields)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unexpected YAML value \(String(describing: value))"))
        }
    }
}
