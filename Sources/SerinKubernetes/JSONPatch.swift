import Foundation

/// RFC 6902 JSON Patch, the operations Serin sends to the Kubernetes API (`application/json-patch+json`). The
/// `test` operations are the point: a patch computed from what Serin read fails whole, changing nothing, when
/// someone else edited those fields since — the edit is detected and the change retried, never overwritten.
public enum JSONPatchOperation: Hashable, Sendable {
    case test(path: JSONPointer, value: JSONValue)
    case replace(path: JSONPointer, value: JSONValue)
    case add(path: JSONPointer, value: JSONValue)
    case remove(path: JSONPointer)

    public var path: JSONPointer {
        switch self {
        case .test(let path, _), .replace(let path, _), .add(let path, _), .remove(let path): path
        }
    }
}

extension JSONPatchOperation: Codable {
    private enum CodingKeys: String, CodingKey { case op, path, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let op = try container.decode(String.self, forKey: .op)
        let path = try JSONPointer(parsing: try container.decode(String.self, forKey: .path))
        switch op {
        case "test": self = .test(path: path, value: try container.decode(JSONValue.self, forKey: .value))
        case "replace": self = .replace(path: path, value: try container.decode(JSONValue.self, forKey: .value))
        case "add": self = .add(path: path, value: try container.decode(JSONValue.self, forKey: .value))
        case "remove": self = .remove(path: path)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .op, in: container, debugDescription: "unsupported JSON Patch op \"\(op)\"; expected test, replace, add or remove"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .test(let path, let value):
            try container.encode("test", forKey: .op)
            try container.encode(path.description, forKey: .path)
            try container.encode(value, forKey: .value)
        case .replace(let path, let value):
            try container.encode("replace", forKey: .op)
            try container.encode(path.description, forKey: .path)
            try container.encode(value, forKey: .value)
        case .add(let path, let value):
            try container.encode("add", forKey: .op)
            try container.encode(path.description, forKey: .path)
            try container.encode(value, forKey: .value)
        case .remove(let path):
            try container.encode("remove", forKey: .op)
            try container.encode(path.description, forKey: .path)
        }
    }
}

/// An RFC 6901 JSON Pointer: `/spec/http/0/route/1/weight`.
public struct JSONPointer: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public let tokens: [String]

    public init(_ tokens: [String]) { self.tokens = tokens }
    public init(arrayLiteral tokens: String...) { self.tokens = tokens }

    public init(parsing text: String) throws {
        guard !text.isEmpty else {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else { throw JSONPatchError.invalidPointer(text) }
        tokens = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    public func appending(_ token: String) -> JSONPointer { JSONPointer(tokens + [token]) }
    public func appending(_ index: Int) -> JSONPointer { appending(String(index)) }

    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }
}

/// Why a patch could not be applied; the document is unchanged.
public enum JSONPatchError: Error, Equatable, CustomStringConvertible {
    case invalidPointer(String)
    case pathNotFound(JSONPointer)
    case testFailed(JSONPointer, expected: JSONValue, actual: JSONValue?)

    public var description: String {
        switch self {
        case .invalidPointer(let text): "invalid JSON Pointer \"\(text)\": it must be empty or start with /"
        case .pathNotFound(let path): "path \(path) does not exist"
        case .testFailed(let path, _, let actual):
            "test failed at \(path): the value changed" + (actual == nil ? " (it is gone)" : "")
        }
    }
}

extension JSONValue {
    public func value(at pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let fields):
                guard let next = fields[token] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// This document with `patch` applied: all of it, or none of it (the first failing operation throws).
    public func applying(_ patch: [JSONPatchOperation]) throws -> JSONValue {
        var document = self
        for operation in patch {
            switch operation {
            case .test(let path, let expected):
                let actual = document.value(at: path)
                guard actual == expected else { throw JSONPatchError.testFailed(path, expected: expected, actual: actual) }
            case .replace(let path, let value):
                guard document.value(at: path) != nil else { throw JSONPatchError.pathNotFound(path) }
                try document.set(value, at: path.tokens[...], inserting: false)
            case .add(let path, let value):
                try document.set(value, at: path.tokens[...], inserting: true)
            case .remove(let path):
                guard document.value(at: path) != nil, !path.tokens.isEmpty else { throw JSONPatchError.pathNotFound(path) }
                try document.remove(at: path.tokens[...])
            }
        }
        return document
    }

    private mutating func set(_ value: JSONValue, at tokens: ArraySlice<String>, inserting: Bool) throws {
        guard let token = tokens.first else {
            self = value
            return
        }
        let rest = tokens.dropFirst()
        let pointer = JSONPointer(Array(tokens))
        switch self {
        case .object(var fields):
            if rest.isEmpty {
                fields[token] = value
            } else {
                guard var child = fields[token] else { throw JSONPatchError.pathNotFound(pointer) }
                try child.set(value, at: rest, inserting: inserting)
                fields[token] = child
            }
            self = .object(fields)
        case .array(var items):
            if rest.isEmpty, inserting {
                let index = token == "-" ? items.count : Int(token) ?? -1
                guard (0...items.count).contains(index) else { throw JSONPatchError.pathNotFound(pointer) }
                items.insert(value, at: index)
            } else {
                guard let index = Int(token), items.indices.contains(index) else { throw JSONPatchError.pathNotFound(pointer) }
                if rest.isEmpty { items[index] = value } else { try items[index].set(value, at: rest, inserting: inserting) }
            }
            self = .array(items)
        default:
            throw JSONPatchError.pathNotFound(pointer)
        }
    }

    private mutating func remove(at tokens: ArraySlice<String>) throws {
        guard let token = tokens.first else { return }
        let rest = tokens.dropFirst()
        switch self {
        case .object(var fields):
            if rest.isEmpty { fields[token] = nil } else { try fields[token]?.remove(at: rest) }
            self = .object(fields)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw JSONPatchError.pathNotFound(JSONPointer(Array(tokens))) }
            if rest.isEmpty { items.remove(at: index) } else { try items[index].remove(at: rest) }
            self = .array(items)
        default:
            throw JSONPatchError.pathNotFound(JSONPointer(Array(tokens)))
        }
    }
}
