/// One problem found in manifests, with the place to fix it.
///
/// `description` is exactly `path:line:column: error: message` (or `warning`), or
/// `error: message` when there is no location (a file that cannot be read).
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// The kind of a document Serin skipped because it does not understand it (`kind: Foo`), nil otherwise: what
    /// `serin up` lists and `serin validate --strict` refuses.
    public var skippedKind: String?
    /// A field Serin does not know (often a slip: `treshold`), a warning that `serin validate --strict` refuses.
    public var unknownField = false
    /// Says a VirtualService is served only by the mesh listener: moot for a command that serves or explains the mesh.
    public var concernsMeshOnly = false

    public init(severity: Severity, location: SourceLocation?, message: String, skippedKind: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.skippedKind = skippedKind
    }

    public static func error(_ message: String, at location: SourceLocation?) -> Diagnostic {
        Diagnostic(severity: .error, location: location, message: message)
    }

    public static func warning(_ message: String, at location: SourceLocation?) -> Diagnostic {
        Diagnostic(severity: .warning, location: location, message: message)
    }

    /// One line always, as editors and `grep` expect: line breaks quoted from the YAML are written `\n`.
    public var description: String {
        let prefix = location.map { "\($0): " } ?? ""
        let oneLine = message.replacing("\r\n", with: "\\r\\n").replacing("\r", with: "\\r").replacing("\n", with: "\\n")
        return "\(prefix)\(severity.rawValue): \(oneLine)"
    }
}

extension Array where Element == Diagnostic {
    /// Whether any diagnostic is an error.
    public var containsErrors: Bool { contains { $0.severity == .error } }

    /// Without the warnings that a VirtualService bound to no gateway needs `--mesh`, for a command given it.
    public var servingTheMesh: [Diagnostic] { filter { !$0.concernsMeshOnly } }

    /// The same diagnostics with every skipped document and unknown field an error: `--strict`.
    public var strict: [Diagnostic] {
        map { diagnostic in
            var strict = diagnostic
            if diagnostic.skippedKind != nil || diagnostic.unknownField { strict.severity = .error }
            return strict
        }
    }
}
