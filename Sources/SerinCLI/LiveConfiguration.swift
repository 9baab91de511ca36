import SerinCore
import SerinGateway
import SerinManifests

/// The resources a running gateway serves, and `apply`: kubectl's upsert, validated as a whole
/// before anything changes.
public actor LiveConfiguration {
    private(set) var resources: [LocatedResource]
    private let gateway: GatewayServer

    public init(gateway: GatewayServer, resources: [LocatedResource]) {
        self.gateway = gateway
        self.resources = resources
    }

    /// Installs the current resources on the gateway (start-up).
    public func installCurrent() async throws {
        try await gateway.install(RouteTable(compiling: MeshConfig(resources: resources)))
    }

    public var config: MeshConfig { MeshConfig(resources: resources) }

    /// Creates or replaces the resources in `sources`, kubectl-style; others stay as they are.
    ///
    /// Nothing changes unless the whole resulting set validates and the gateway accepts it.
    public func apply(_ sources: [ManifestSource]) async -> ApplyReport {
        let decoded = ManifestDecoder.decode(sources)
        let appliedPaths = Set(sources.map(\.path))
        if decoded.diagnostics.containsErrors {
            return ApplyReport(applied: false, results: [], diagnostics: decoded.diagnostics.map(\.description))
        }
        var merged = resources
        var results: [String] = []
        for resource in decoded.resources {
            let label = "\(resource.kind.kubectlName)/\(resource.name.name)"
            if let index = merged.firstIndex(where: { $0.kind == resource.kind && $0.name == resource.name }) {
                results.append(merged[index].resource == resource.resource ? "\(label) unchanged" : "\(label) configured")
                merged[index] = resource
            } else {
                results.append("\(label) created")
                merged.append(resource)
            }
        }
        let validation = ManifestValidator.validate(merged)
        // Every error blocks; warnings are only worth repeating for the files just applied.
        let reported = decoded.diagnostics + validation.filter {
            $0.severity == .error || $0.location.map { appliedPaths.contains($0.file) } == true
        }
        if validation.containsErrors {
            return ApplyReport(applied: false, results: [], diagnostics: reported.map(\.description))
        }
        do {
            try await gateway.install(RouteTable(compiling: MeshConfig(resources: merged)))
        } catch {
            return ApplyReport(applied: false, results: [], diagnostics: ["error: \(error)"])
        }
        resources = merged
        return ApplyReport(applied: true, results: results, diagnostics: reported.map(\.description))
    }
}

/// What `serin apply` prints: one line per resource, like kubectl, and any diagnostics.
public struct ApplyReport: Codable, Sendable, Equatable {
    public var applied: Bool
    public var results: [String]
    public var diagnostics: [String]
}

/// The request body of `POST /apply`: the manifest files with the paths the client read them from.
public struct ApplyRequest: Codable, Sendable {
    public var sources: [ManifestSource]
}
