/// The workload whose requests a proxy carries, as Istio knows the pod of a sidecar or gateway: its labels and its
/// namespace. A route match's `sourceLabels` and `sourceNamespace` (`SourceCondition`) name workloads; Istio leaves
/// such a match out of the routes of every proxy whose workload it does not name.
public struct SourceWorkload: Hashable, Sendable {
    public var labels: [String: String]
    public var namespace: String

    public init(labels: [String: String] = [:], namespace: String = ResourceName.defaultNamespace) {
        self.labels = labels
        self.namespace = namespace
    }

    /// Whether `condition` names this workload: it carries every label the condition lists, and is in its namespace
    /// when the condition names one.
    public func isNamed(by condition: SourceCondition) -> Bool {
        condition.labels.allSatisfy { labels[$0.key] == $0.value } && (condition.namespace.map { $0 == namespace } ?? true)
    }
}

/// A route match's conditions on the workload a request or connection comes from: Istio's `sourceLabels` and
/// `sourceNamespace`, applied when routes are compiled for a proxy (`SourceMatched.fitted`), never per request.
public struct SourceCondition: Hashable, Sendable, Codable {
    public var labels: [String: String]
    public var namespace: String?

    public init(labels: [String: String] = [:], namespace: String? = nil) {
        self.labels = labels
        self.namespace = namespace
    }
}

/// A match that may name source workloads and gateways: an HTTP route's, a TLS route's or a TCP route's.
public protocol SourceMatched {
    var source: SourceCondition? { get set }
    /// Gateways the match applies to; empty: the VirtualService's.
    var gateways: [ResourceName] { get set }
}

extension SourceMatched {
    /// This match as the proxies serving `gateways` (`ResourceName.mesh` for the mesh's sidecar) apply it, as Istio
    /// trims a route's matches for each proxy: a match naming source workloads applies at those of the gateways
    /// whose workload it names (`MeshConfig.workload(of:)`), so it becomes a match on them alone; nil when it names
    /// none of theirs. A match that names gateways of its own is Istio's case too: its gateways decide, and its source
    /// conditions are not read.
    public func fitted(toSourcesOf gateways: Set<ResourceName>, in config: MeshConfig) -> Self? {
        guard let source, self.gateways.isEmpty else { return self }
        var fitted = self
        fitted.source = nil
        fitted.gateways = gateways.filter { config.workload(of: $0)?.isNamed(by: source) ?? false }.sorted()
        return fitted.gateways.isEmpty ? nil : fitted
    }

    /// The matches of one route as the proxies serving `gateways` apply them; nil when the route had matches and none
    /// applies there, so the route is left out (a route without matches applies to every request, as written).
    public static func fitted(_ matches: [Self], toSourcesOf gateways: Set<ResourceName>, in config: MeshConfig) -> [Self]? {
        let fitted = matches.compactMap { $0.fitted(toSourcesOf: gateways, in: config) }
        return !matches.isEmpty && fitted.isEmpty ? nil : fitted
    }
}
