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
        diagnostics = decoded.diagnostics + ManifestValidator.validate(decoded.resources)
        config = MeshConfig(resources: decoded.resources)
    }

    /// The Canary specs, for the controller; routing (`config`) does not depend on them.
    public var canaries: [CanarySpec] { resources.canaries }

    /// The MetricTemplates, for the controller's custom metrics.
    public var metricTemplates: [MetricTemplateSpec] { resources.metricTemplates }

    public var hasErrors: Bool { diagnostics.containsErrors }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}
