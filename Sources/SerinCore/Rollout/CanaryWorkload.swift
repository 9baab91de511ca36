/// Flagger's shape of a Canary: it targets a Deployment people change, and Serin owns `NAME-primary` (a copy of
/// its pod template that serves), the Services `SERVICE`, `SERVICE-primary`, `SERVICE-canary` and the
/// VirtualService `SERVICE`, where SERVICE is `service.name`, the Deployment's NAME unless written. A change of the
/// target's pod template — or of a ConfigMap or Secret it uses — is a new release; promotion copies the template to
/// the primary, which stays the stable.
public struct CanaryWorkload: Hashable, Sendable, Codable {
    /// The target Deployment, in the Canary's namespace.
    public var deployment: String
    /// What the target runs: a digest of its pod template and the ConfigMaps and Secrets it references. Nil until
    /// the controller has read the Deployment; a new value starts a release.
    public var revision: String?
    /// The port the generated Services and VirtualService route to (`service.port`).
    public var port: Int
    /// The HorizontalPodAutoscaler that scales the target (`autoscalerRef`), copied for the primary.
    public var autoscaler: String?
    /// Flagger's `service.name` when it is not the Deployment's: what the Services and VirtualService are named
    /// after. Nil: the Deployment's name.
    public var service: String?

    public init(deployment: String, revision: String? = nil, port: Int, autoscaler: String? = nil, service: String? = nil) {
        self.deployment = deployment
        self.revision = revision
        self.port = port
        self.autoscaler = autoscaler
        self.service = service == deployment ? nil : service
    }

    /// `podinfo-primary`: the Deployment that serves the stable (and its autoscaler).
    public var primary: String { "\(deployment)-primary" }
    /// `podinfo` (or `service.name`): the Service clients call and the VirtualService that splits it.
    public var apexService: String { service ?? deployment }
    /// `podinfo-primary` (or `SERVICE-primary`): the Service in front of the primary's pods.
    public var primaryService: String { "\(apexService)-primary" }
    /// `podinfo-canary` (or `SERVICE-canary`): the Service in front of the target's own pods.
    public var canaryService: String { "\(apexService)-canary" }
    /// `podinfo-primary`: the HorizontalPodAutoscaler Serin creates for the primary, when the Canary names one.
    public var primaryAutoscaler: String? { autoscaler.map { _ in primary } }
}

/// Scale the target Deployment up (to the primary's size) before a release, or to zero after one.
public struct WorkloadScaling: Hashable, Sendable {
    public enum Size: String, Hashable, Sendable {
        case likePrimary
        case zero
    }

    public let target: ResourceName
    public let primary: ResourceName
    public let size: Size
    /// The primary's HorizontalPodAutoscaler, when the Canary names an `autoscalerRef`: scaling to zero after a
    /// release gives back the floor a promotion raised on it.
    public let primaryAutoscaler: ResourceName?

    public init(target: ResourceName, primary: ResourceName, size: Size, primaryAutoscaler: ResourceName? = nil) {
        self.target = target
        self.primary = primary
        self.size = size
        self.primaryAutoscaler = primaryAutoscaler
    }
}

/// Make the primary serve the target's revision and say when it is ready to take all traffic; report with
/// `Rollout.primaryUpdated`.
public struct WorkloadPromotion: Hashable, Sendable {
    /// What the primary is asked for.
    public enum Purpose: String, Hashable, Sendable {
        /// First sight: the primary was created from the target's template; only its readiness is asked, before
        /// the target is scaled to zero. Nothing is copied: a revision that arrives meanwhile is a release.
        case baseline
        /// Copy the target's pod template to the primary; ready once the primary has rolled it out and, with an
        /// autoscaler, has at least as many ready replicas as primary and target served together.
        case promotion
    }

    public let ticket: RolloutTicket
    public let target: ResourceName
    public let primary: ResourceName
    public let purpose: Purpose
    /// The primary's HorizontalPodAutoscaler, when the Canary names an `autoscalerRef`.
    public let primaryAutoscaler: ResourceName?
    /// The revision promoted (template and the content of the ConfigMaps and Secrets it reads): stamped on the
    /// primary's template, so a release of content alone still rolls the primary's pods.
    public let revision: String?
    /// The percentage of the primary's updated replicas that must be available (`analysis.primaryReadyThreshold`).
    public let readyThreshold: Int

    public init(
        ticket: RolloutTicket, target: ResourceName, primary: ResourceName, purpose: Purpose = .promotion,
        primaryAutoscaler: ResourceName? = nil, revision: String? = nil, readyThreshold: Int = AnalysisSpec.defaultReadyThreshold
    ) {
        self.readyThreshold = readyThreshold
        self.ticket = ticket
        self.target = target
        self.primary = primary
        self.purpose = purpose
        self.primaryAutoscaler = primaryAutoscaler
        self.revision = revision
    }
}
