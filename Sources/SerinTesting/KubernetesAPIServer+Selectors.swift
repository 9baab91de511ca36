import Foundation
import SerinKubernetes

/// `fieldSelector` and `labelSelector` on lists and watches: `kubectl describe` finds an object's Events with
/// `involvedObject.name=web,involvedObject.uid=...`, `kubectl get canary web -w` watches with
/// `metadata.name=web`. Equality (`=`, `==`) and inequality (`!=`) terms, and a label's bare existence; a field
/// is any dotted path into the object, where a real server allows only a few per resource.
extension KubernetesAPIServer {
    struct Selector: Sendable {
        enum Term: Sendable {
            case equals([String], String)
            case differs([String], String)
            case exists([String])
        }

        let terms: [Term]

        static let everything = Selector(terms: [])

        init(terms: [Term]) { self.terms = terms }

        /// The query's selectors as one; label keys are looked up under `metadata.labels`.
        init(query: [String: String]) {
            terms = Self.terms(query["fieldSelector"] ?? "", under: []) + Self.terms(query["labelSelector"] ?? "", under: ["metadata", "labels"])
        }

        private static func terms(_ text: String, under prefix: [String]) -> [Term] {
            text.split(separator: ",").map { term in
                let path = { (key: Substring) in prefix.isEmpty ? key.split(separator: ".").map(String.init) : prefix + [String(key)] }
                if let range = term.range(of: "!=") {
                    return .differs(path(term[..<range.lowerBound]), String(term[range.upperBound...]))
                }
                if let range = term.range(of: "==") ?? term.range(of: "=") {
                    return .equals(path(term[..<range.lowerBound]), String(term[range.upperBound...]))
                }
                return .exists(path(term[...]))
            }
        }

        func matches(_ object: JSONValue) -> Bool {
            terms.allSatisfy { term in
                switch term {
                case .equals(let path, let value): Self.text(at: path, in: object) == value
                case .differs(let path, let value): Self.text(at: path, in: object) != value
                case .exists(let path): Self.text(at: path, in: object) != nil
                }
            }
        }

        private static func text(at path: [String], in object: JSONValue) -> String? {
            guard let value = path.reduce(Optional(object), { $0?[$1] }) else { return nil }
            switch value {
            case .string(let text): return text
            case .null: return nil
            default: return value.description
            }
        }
    }
}
