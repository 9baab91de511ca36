import SerinCore

/// Decoded, validated manifests and the configuration they build, in one value: what `serin apply`,
/// `serin validate` and the embedded gateway all start from.
public struct ManifestSet: Sendable {
    public var resources: [LocatedResource]
    /// Decoding problems first, then cross-resource validation.
    public var diagnostics: [Diagnostic]
    public var config: MeshConfig

    public init(sources: [ManifestSource]) {
        let decoded = ManifestDecoder.decode(sources)
        resources = decoded.resources
        diagnostics = decoded.diagnostics + ManifestValidator.validate(decoded.resources, unread: decoded.unread)
        config = MeshConfig(resources: decoded.resources)
    }

    /// The Canary specs, for the controller; routing (`config`) does not depend on them.
    public var canaries: [CanarySpec] { resources.canaries }

    /// The MetricTemplates, for the controller's custom metrics.
    public var metricTemplates: [MetricTemplateSpec] { resources.metricTemplates }

    public var hasErrors: Bool { diagnostics.containsErrors }

    /// The documents skipped for a kind Serin does not read.
    public var skipped: [Diagnostic] { diagnostics.filter { $0.skippedKind != nil } }

    /// What the set holds, by kind in Serin's order: `1 Gateway, 1 VirtualService, 2 Services, 1 Canary`.
    public var contents: String {
        let counts = ResourceKind.allCases.compactMap { kind -> String? in
            let count = resources.count { $0.kind == kind }
            guard count > 0 else { return nil }
            let name = kind.rawValue
            if count == 1 { return "1 \(name)" }
            return name.hasSuffix("y") ? "\(count) \(name.dropLast())ies" : "\(count) \(name)\(name.hasSuffix("s") ? "es" : "s")"
        }
        return counts.isEmpty ? "nothing Serin reads" : counts.joined(separator: ", ")
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}
