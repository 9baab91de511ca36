import Foundation
import SerinKubernetes

/// Kubernetes' protobuf encoding, read as far as the double needs it: kubectl sends the built-in kinds it creates
/// (`kubectl create secret`, `create configmap`, `create namespace`) as `application/vnd.kubernetes.protobuf`, which
/// a real API server accepts. The body is the magic `k8s\0`, then a `runtime.Unknown` holding the TypeMeta and the
/// object's own message; the object comes back as the JSON the API would serve for it.
enum KubernetesProtobuf {
    static let contentType = "application/vnd.kubernetes.protobuf"

    /// Why a body cannot be read: said in the 400 or 415 the double answers.
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
        /// A kind this double reads only as JSON: the API server answers 415 for one it has no protobuf for.
        var unsupportedKind = false
    }

    /// The object `body` carries, as JSON with its apiVersion and kind.
    static func object(from body: Data) throws -> JSONValue {
        let bytes = [UInt8](body)
        guard bytes.starts(with: [0x6B, 0x38, 0x73, 0x00]) else { throw Unreadable(description: "the body does not begin with k8s\\0") }
        var apiVersion = "", kind = "", raw: [UInt8] = []
        try Reader(bytes[4...]).fields { field, reader in
            switch field {
            case 1:
                try Reader(reader.bytes()[...]).fields { field, typeMeta in
                    if field == 1 { apiVersion = try typeMeta.string() } else if field == 2 { kind = try typeMeta.string() } else { try typeMeta.skip() }
                }
            case 2: raw = try reader.bytes()
            default: try reader.skip()
            }
        }
        var object: [String: JSONValue] = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        switch (apiVersion, kind) {
        case ("v1", "Secret"):
            try Reader(raw[...]).fields { field, reader in
                switch field {
                case 1: object["metadata"] = try metadata(reader.bytes())
                case 2: object["data"] = try map(reader, into: object["data"]) { .string(Data($0).base64EncodedString()) }
                case 3: object["type"] = .string(try reader.string())
                case 4: object["stringData"] = try map(reader, into: object["stringData"]) { .string(String(decoding: $0, as: UTF8.self)) }
                case 5: object["immutable"] = .bool(try reader.varint() != 0)
                default: try reader.skip()
                }
            }
        case ("v1", "ConfigMap"):
            try Reader(raw[...]).fields { field, reader in
                switch field {
                case 1: object["metadata"] = try metadata(reader.bytes())
                case 2: object["data"] = try map(reader, into: object["data"]) { .string(String(decoding: $0, as: UTF8.self)) }
                case 3: object["binaryData"] = try map(reader, into: object["binaryData"]) { .string(Data($0).base64EncodedString()) }
                case 4: object["immutable"] = .bool(try reader.varint() != 0)
                default: try reader.skip()
                }
            }
        case ("v1", "Namespace"):
            try Reader(raw[...]).fields { field, reader in
                if field == 1 { object["metadata"] = try metadata(reader.bytes()) } else { try reader.skip() }
            }
        default:
            throw Unreadable(description: "\(apiVersion) \(kind) is read only as JSON by this double", unsupportedKind: true)
        }
        return .object(object)
    }

    /// ObjectMeta's fields a created object carries: name, generateName, namespace, labels and annotations.
    private static func metadata(_ bytes: [UInt8]) throws -> JSONValue {
        var metadata: [String: JSONValue] = [:]
        try Reader(bytes[...]).fields { field, reader in
            switch field {
            case 1: metadata["name"] = .string(try reader.string())
            case 2: metadata["generateName"] = .string(try reader.string())
            case 3: metadata["namespace"] = .string(try reader.string())
            case 11: metadata["labels"] = try map(reader, into: metadata["labels"]) { .string(String(decoding: $0, as: UTF8.self)) }
            case 12: metadata["annotations"] = try map(reader, into: metadata["annotations"]) { .string(String(decoding: $0, as: UTF8.self)) }
            default: try reader.skip()
            }
        }
        return .object(metadata)
    }

    /// One entry of a protobuf map (a repeated message of key 1 and value 2), added to what the map holds so far.
    private static func map(_ reader: Reader, into current: JSONValue?, value: ([UInt8]) -> JSONValue) throws -> JSONValue {
        var entries = current?.objectValue ?? [:]
        var key = "", entry: [UInt8] = []
        try Reader(reader.bytes()[...]).fields { field, pair in
            if field == 1 { key = try pair.string() } else if field == 2 { entry = try pair.bytes() } else { try pair.skip() }
        }
        entries[key] = value(entry)
        return .object(entries)
    }

    /// Reads protobuf's wire format: tagged fields of varints, fixed 32- and 64-bit values and length-delimited bytes.
    final class Reader {
        private var rest: ArraySlice<UInt8>
        private var wireType = 0

        init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

        /// Calls `body` with each field's number; `body` reads the field's value (or skips it).
        func fields(_ body: (Int, Reader) throws -> Void) throws {
            while !rest.isEmpty {
                let tag = try varint()
                wireType = Int(tag & 7)
                try body(Int(tag >> 3), self)
            }
        }

        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let byte = rest.popFirst() else { throw Unreadable(description: "the body ends inside a varint") }
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            throw Unreadable(description: "a varint is longer than 10 bytes")
        }

        func bytes() throws -> [UInt8] {
            guard wireType == 2 else { throw Unreadable(description: "expected a length-delimited field, got wire type \(wireType)") }
            let length = Int(try varint())
            guard length <= rest.count else { throw Unreadable(description: "a field of \(length) bytes runs past the body's end") }
            defer { rest = rest.dropFirst(length) }
            return Array(rest.prefix(length))
        }

        func string() throws -> String { String(decoding: try bytes(), as: UTF8.self) }

        func skip() throws {
            switch wireType {
            case 0: _ = try varint()
            case 1, 5:
                let width = wireType == 1 ? 8 : 4
                guard width <= rest.count else { throw Unreadable(description: "the body ends inside a fixed-width field") }
                rest = rest.dropFirst(width)
            case 2: _ = try bytes()
            default: throw Unreadable(description: "wire type \(wireType) is not one protobuf writes")
            }
        }
    }
}
