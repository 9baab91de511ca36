import SerinCore
import SerinGateway
import SerinManifests

/// The resources a running gateway serves, and `apply`: kubectl's upsert, validated as a whole
/// before anything changes. The controller changes weights through it too, so both paths swap
/// the routing table the same way.
///
/// Each change reads the resources, installs a new table (which waits) and writes them back; changes take
/// turns, so an apply and a weight change made meanwhile never start from the same resources and lose one
/// another's work (an actor alone would let the second in while the first waits on the install).
public actor LiveConfiguration {
    public private(set) var resources: [LocatedResource]
    private let gateway: GatewayServer
    private var onApplied: (@Sendable ([CanarySpec]) async -> Void)?
    private var changing = false
    private var waitingToChange: [CheckedContinuation<Void, Never>] = []

    public init(gateway: GatewayServer, resources: [LocatedResource]) {
        self.gateway = gateway
        self.resources = resources
    }

    /// Called after each successful apply with every Canary now configured (the controller reconciles).
    public func onApply(_ handler: @escaping @Sendable ([CanarySpec]) async -> Void) {
        onApplied = handler
    }

    /// Installs the current resources on the gateway (start-up).
    public func installCurrent() async throws {
        await beginChange()
        defer { endChange() }
        try await gateway.install(RouteTable(compiling: MeshConfig(resources: resources)))
    }

    /// Waits for this change's turn.
    private func beginChange() async {
        if changing {
            await withCheckedContinuation { waitingToChange.append($0) }
        } else {
            changing = true
        }
    }

    /// Hands the turn to the next change waiting, if any.
    private func endChange() {
        if waitingToChange.isEmpty {
            changing = false
        } else {
            waitingToChange.removeFirst().resume()
        }
    }

    public var config: MeshConfig { MeshConfig(resources: resources) }

    /// The Canary resources among the current ones.
    public var canaries: [CanarySpec] { resources.canaries }

    /// The MetricTemplate resources among the current ones.
    public var metricTemplates: [MetricTemplateSpec] { resources.metricTemplates }

    /// Creates or replaces the resources in `sources`, kubectl-style; others stay as they are.
    ///
    /// Nothing changes unless the whole resulting set validates and the gateway accepts it.
    public func apply(_ sources: [ManifestSource]) async -> ApplyReport {
        await beginChange()
        defer { endChange() }
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
        await onApplied?(merged.canaries)
        return ApplyReport(applied: true, results: results, diagnostics: reported.map(\.description))
    }

    /// Sets a rollout's weights on the routes of `target` that lead to the stable destination.
    public func setWeights(in target: ResourceName, stable: WeightedDestination, canary: WeightedDestination) async throws {
        await beginChange()
        defer { endChange() }
        guard let index = resources.firstIndex(where: { $0.kind == .virtualService && $0.name == target }),
            case .virtualService(var virtualService) = resources[index].resource
        else {
            throw TrafficRouterError.noVirtualService(target)
        }
        guard virtualService.setCanaryWeights(stable: stable, canary: canary) > 0 else {
            throw TrafficRouterError.noRouteToStable(target, host: stable.destination.host)
        }
        var updated = resources
        updated[index].resource = .virtualService(virtualService)
        try await gateway.install(RouteTable(compiling: MeshConfig(resources: updated)))
        resources = updated
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

    public init(sources: [ManifestSource]) {
        self.sources = sources
    }
}
