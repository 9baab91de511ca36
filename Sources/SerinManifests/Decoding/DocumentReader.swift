import SerinCore
import Yams

/// Reads one YAML document into typed values, collecting located diagnostics and the location of every field.
///
/// A reference type because every decoding helper appends to the same diagnostics; it lives for one document.
final class DocumentReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []
    private(set) var fieldLocations: [String: SourceLocation] = [:]
    /// Set when the document is malformed (wrong type, missing field): its resource is then not produced,
    /// so half-read values never reach validation or the gateway.
    private(set) var isMalformed = false
    /// Unknown fields are errors, not warnings: a format Serin reads as another tool's (Flagger's Canary), where a
    /// field silently skipped would change what the release does.
    var unknownFieldsAreErrors = false

    /// `body`'s reading with unknown fields as errors when `strict` (else as they were), as they were again after.
    func readingStrictly<Value>(_ strict: Bool = true, _ body: () -> Value) -> Value {
        let before = unknownFieldsAreErrors
        unknownFieldsAreErrors = before || strict
        defer { unknownFieldsAreErrors = before }
        return body()
    }

    /// The file's text, when at hand: where a literal block's content lies. Read only for that, one line at a time:
    /// a file of thousands of documents has a reader per document, which must not each split the whole file.
    private let text: String?

    init(file: String, text: String? = nil) {
        self.file = file
        self.text = text
    }

    /// The spaces that indent line `number` (1-based) of the file; nil without its text, or past its end.
    private func indentation(ofLine number: Int) -> Int? {
        guard let text, number >= 1 else { return nil }
        var rest = text.utf8[...]
        for _ in 1..<number {
            guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            rest = rest[rest.index(after: newline)...]
        }
        return rest.prefix { $0 == UInt8(ascii: " ") }.count
    }

    func location(of node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Where the text at `index` of a scalar's `value` was written. A literal block's (`|`) lines are its value's
    /// lines, from the line after its indicator, each indented alike; any other scalar is placed where it starts.
    func location(of node: Node, at index: String.Index, in value: String) -> SourceLocation {
        var location = location(of: node)
        guard case .scalar(let scalar) = node, scalar.style == .literal else { return location }
        let before = value[..<index]
        location.line += 1 + before.count { $0 == "\n" }
        let lineStart = before.lastIndex(of: "\n").map { value.index(after: $0) } ?? value.startIndex
        // The block's indentation: the written line's spaces less those the value keeps (a line indented deeper).
        let kept = value[lineStart...].prefix { $0 == " " }.count
        let written = indentation(ofLine: location.line) ?? kept
        location.column = written - kept + value.distance(from: lineStart, to: index) + 1
        return location
    }

    /// `read`'s value when reading it reported no error, else nil: a part of a malformed document read fine.
    func withoutError<Value>(_ read: () -> Value?) -> Value? {
        let errors = diagnostics.count { $0.severity == .error }
        let value = read()
        return diagnostics.count { $0.severity == .error } == errors ? value : nil
    }

    // MARK: Reporting

    /// A malformed document: the resource will not be produced.
    func error(_ message: String, at node: Node) {
        isMalformed = true
        diagnostics.append(.error(message, at: location(of: node)))
    }

    /// A well-formed resource Serin cannot serve as written: reported as an error, but the value is kept
    /// so cross-resource checks do not cascade ("gateway does not exist") from it.
    func unsupported(_ message: String, at node: Node) {
        unsupported(message, at: location(of: node))
    }

    func unsupported(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
    }

    /// A malformed document, reported at the field `path` or, when that was not written, at its nearest
    /// written ancestor (`spec.analysis` for a defaulted `spec.analysis.metrics[0].interval`); at `fallback`
    /// when none was.
    func error(_ message: String, atPath path: String, fallback: Node) {
        isMalformed = true
        var candidate: String? = path
        while let current = candidate, !current.isEmpty {
            if let location = fieldLocations[current] {
                diagnostics.append(.error(message, at: location))
                return
            }
            candidate = Field.parent(of: current)
        }
        diagnostics.append(.error(message, at: location(of: fallback)))
    }

    func warning(_ message: String, at node: Node) {
        diagnostics.append(.warning(message, at: location(of: node)))
    }

    /// A warning at the field `path` as written; nothing when it was not.
    func warning(_ message: String, atWritten path: String) {
        if let location = fieldLocations[path] { diagnostics.append(.warning(message, at: location)) }
    }

    /// A document of a kind Serin does not read: a warning that says so, marked so commands can list or refuse it.
    func skipped(kind: String, _ message: String, at node: Node) {
        diagnostics.append(Diagnostic(severity: .warning, location: location(of: node), message: message, skippedKind: kind))
    }

    func typeMismatch(_ field: Field, expected: String) {
        error("\(field.path): expected \(expected), got \(field.node.valueDescription)", at: field.node)
    }

    /// Drops a recorded location, for entries that have no counterpart in the decoded value.
    func forgetLocation(of path: String) {
        fieldLocations[path] = nil
    }

    // MARK: Structure

    /// The children of a mapping, after warning about keys the schema does not know.
    func mapping(_ field: Field, _ schema: Schema) -> Fields? {
        guard case .mapping(let mapping) = field.node else {
            typeMismatch(field, expected: "a mapping")
            return nil
        }
        var children: [String: Field] = [:]
        for (keyNode, value) in mapping {
            guard let key = scalarText(keyNode) else {
                error("\(field.path): expected field names, got \(keyNode.valueDescription)", at: keyNode)
                continue
            }
            let child = field.child(key, value)
            if schema.known.contains(key) {
                fieldLocations[child.path] = location(of: value)
                children[key] = child
            } else if schema.notApplied.contains(key) {
                warning("\(child.path) is not applied by the embedded gateway yet", at: keyNode)
            } else if schema.notSupported.contains(key) {
                warning("\(child.path) is not supported by Serin's gateway, ignored", at: keyNode)
            } else if let reason = schema.notRead[key] {
                if unknownFieldsAreErrors {
                    error("\(child.path) is not supported by Serin yet: \(reason)", at: keyNode)
                } else {
                    warning("\(child.path) is not read: \(reason)", at: keyNode)
                }
            } else if !schema.ignored.contains(key) {
                let guess = Spelling.suggestion(for: key, among: schema.known).map { " (did you mean \($0)?)" } ?? ""
                if unknownFieldsAreErrors {
                    // A near miss of a known field is a typo, said as one; with none near, the fields it could be (read
                    // strictly, a schema holds every field the resource has).
                    error("unknown field \(child.path)\(guess.isEmpty ? Self.knownFields(schema, of: field.path) : guess)", at: keyNode)
                } else {
                    var unknown = Diagnostic.warning("unknown field \(child.path)\(guess)", at: location(of: keyNode))
                    unknown.unknownField = true
                    diagnostics.append(unknown)
                }
            }
        }
        return Fields(owner: field, children: children)
    }

    /// ` (thresholdRange takes min or max)`: the fields a mapping takes, when they are few enough to list.
    static func knownFields(_ schema: Schema, of path: String) -> String {
        let names = schema.known.union(schema.ignored).sorted()
        guard !names.isEmpty, names.count <= 8 else { return "" }
        let listed = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
        // `metrics[0]` is a metric entry: named for its list.
        let owner = path.split(separator: ".").last.map { $0.split(separator: "[").first.map(String.init) ?? String($0) } ?? path
        return " (\(owner.isEmpty ? "it" : owner) takes \(listed))"
    }

    /// Every key and value of a mapping whose keys are data (labels, header names), not field names.
    func entries(_ field: Field) -> [(key: String, field: Field)]? {
        guard case .mapping(let mapping) = field.node else {
            typeMismatch(field, expected: "a mapping")
            return nil
        }
        var result: [(key: String, field: Field)] = []
        for (keyNode, value) in mapping {
            guard let key = scalarText(keyNode) else {
                error("\(field.path): expected names as keys, got \(keyNode.valueDescription)", at: keyNode)
                continue
            }
            let child = field.child(key, value)
            fieldLocations[child.path] = location(of: value)
            result.append((key, child))
        }
        return result
    }

    /// The entries of a list, each with its indexed path.
    func list(_ field: Field) -> [Field]? {
        guard case .sequence(let sequence) = field.node else {
            typeMismatch(field, expected: "a list")
            return nil
        }
        return sequence.enumerated().map { index, node in
            let element = field.element(index, node)
            fieldLocations[element.path] = location(of: node)
            return element
        }
    }

    /// The entries of a list decoded one by one; nil when the field is not a list or any entry failed
    /// (every entry is still read, so all their problems are reported).
    func list<Value>(_ field: Field, each decode: (Field) -> Value?) -> [Value]? {
        guard let elements = list(field) else { return nil }
        let values = elements.compactMap(decode)
        return values.count == elements.count ? values : nil
    }

    /// The field `key`, or an error naming it when absent.
    func required(_ key: String, in fields: Fields) -> Field? {
        if let field = fields[key] { return field }
        error("\(fields.owner.path(of: key)) is required", at: fields.owner.node)
        return nil
    }

    // MARK: Scalars

    func string(_ field: Field) -> String? {
        guard case .scalar(let scalar) = field.node, field.node.tagName == .str else {
            typeMismatch(field, expected: "a string")
            return nil
        }
        return scalar.string
    }

    func int(_ field: Field) -> Int? {
        guard field.node.tagName == .int, let value = field.node.int else {
            if field.node.tagName == .int, case .scalar(let scalar) = field.node {
                // An integer, but past what 64 bits hold: say that, not "expected an integer, got integer".
                error("\(field.path): \(scalar.string) is too large, expected an integer of at most \(Int.max)", at: field.node)
            } else {
                typeMismatch(field, expected: "an integer")
            }
            return nil
        }
        return value
    }

    func bool(_ field: Field) -> Bool? {
        guard field.node.tagName == .bool, let value = field.node.bool else {
            typeMismatch(field, expected: "a boolean")
            return nil
        }
        return value
    }

    /// An integer or a decimal number (`99`, `99.5`).
    func number(_ field: Field) -> Double? {
        switch field.node.tagName {
        case .int: if let value = field.node.int { return Double(value) }
        case .float: if let value = field.node.float { return value }
        default: break
        }
        typeMismatch(field, expected: "a number")
        return nil
    }

    /// A duration as Flagger writes them: `500ms`, `30s`, `1m`, `1h`, `1m30s`.
    func duration(_ field: Field) -> Duration? {
        let expected = "a duration like 30s or 1m"
        guard case .scalar(let scalar) = field.node, field.node.tagName == .str else {
            typeMismatch(field, expected: expected)
            return nil
        }
        guard let value = DurationText.parse(scalar.string) else {
            error("\(field.path): expected \(expected), got \"\(scalar.string)\"", at: field.node)
            return nil
        }
        return value
    }

    /// A port number: an integer from 1 to 65535.
    func port(_ field: Field) -> Int? {
        guard let value = int(field) else { return nil }
        guard (1...65535).contains(value) else {
            error("\(field.path): expected a port from 1 to 65535, got \(value)", at: field.node)
            return nil
        }
        return value
    }

    /// One of a closed set of words (`STATIC`, `DNS`...).
    func choice<Value: RawRepresentable & CaseIterable>(_ field: Field, as type: Value.Type) -> Value?
    where Value.RawValue == String {
        guard let text = string(field) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let options = Value.allCases.map(\.rawValue).joined(separator: ", ")
        error("\(field.path): expected one of \(options), got \"\(text)\"", at: field.node)
        return nil
    }

    func stringList(_ field: Field) -> [String]? {
        guard let elements = list(field) else { return nil }
        let values = elements.compactMap(string)
        return values.count == elements.count ? values : nil
    }

    /// Labels, selectors: a mapping of strings to strings.
    func stringMap(_ field: Field) -> [String: String]? {
        guard let entries = entries(field) else { return nil }
        var result: [String: String] = [:]
        for (key, child) in entries {
            guard let value = string(child) else { continue }
            result[key] = value
        }
        return result
    }

    /// Key text of a mapping; keys are plain scalars in every format Serin reads.
    private func scalarText(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        return scalar.string
    }
}
