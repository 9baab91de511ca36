import Logging
import SerinCore
import SerinManifests

/// The MetricTemplates in the cluster, kept current for the controller's custom metrics: Serin's own
/// (`metrictemplates.serin.dev`) and Flagger's (`metrictemplates.flagger.app`, read unchanged), each watched
/// like the Canaries. A template changed with kubectl is used from the next analysis. A cluster without one of
/// the two CRDs is fine: that watch says so once and keeps retrying quietly, so installing it later just works.
public actor ClusterMetricTemplates {
    /// The API groups MetricTemplates are read from, Serin's first: with the same namespace/name in both, Serin's wins.
    public static let collections: [(groupVersion: String, label: String)] = [
        ("serin.dev/v1alpha1", "metrictemplates.serin.dev"), ("flagger.app/v1beta1", "metrictemplates.flagger.app"),
    ]

    let api: any KubernetesAPI
    private let namespace: String?
    private let logger: Logger
    private var byGroup: [String: [MetricTemplateSpec]] = [:]
    private var reported: [String: Set<String>] = [:]

    /// - Parameter namespace: where to read templates; nil for every namespace.
    public init(api: any KubernetesAPI, namespace: String?, logger: Logger) {
        self.api = api
        self.namespace = namespace
        self.logger = logger
    }

    /// The templates now, Serin's before Flagger's.
    public var templates: [MetricTemplateSpec] {
        Self.collections.flatMap { byGroup[$0.groupVersion] ?? [] }
    }

    /// Watches both collections until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { watches in
            for (groupVersion, label) in Self.collections {
                // A CRD that is not installed (Flagger's, in a cluster without Flagger) holds no templates: said once, as
                // a notice, and looked for again now and then.
                let watch = ResourceWatch(
                    api: api, collection: Self.path(groupVersion, namespace: namespace), label: label, logger: logger, missingIsEmpty: true)
                watches.addTask {
                    await watch.run { objects in await self.update(groupVersion, objects) }
                }
            }
        }
    }

    static func path(_ groupVersion: String, namespace: String?) -> ResourcePath {
        ResourcePath(groupVersion: groupVersion, resource: "metrictemplates", namespace: namespace)
    }

    private func update(_ groupVersion: String, _ objects: [ResourceName: JSONValue]) {
        var templates: [MetricTemplateSpec] = []
        var problems: Set<String> = []
        for (_, object) in objects.sorted(by: { $0.key.description < $1.key.description }) {
            switch CanaryWatcher.decode(object, kind: "MetricTemplate", defaultAPIVersion: groupVersion, { $0.metricTemplates.first }) {
            case .success(let template): templates.append(template)
            case .failure(let problem): problems.insert(problem.message)
            }
        }
        byGroup[groupVersion] = templates
        // Each problem is said once, not after every change of another template.
        for problem in problems.subtracting(reported[groupVersion] ?? []).sorted() { logger.warning("\(problem)") }
        reported[groupVersion] = problems
    }
}
