/// A `Canary` resource (`serin.dev/v1alpha1`): which VirtualService to drive, which new version to release
/// into it, and how to analyse the canary on the way.
public struct CanarySpec: Hashable, Sendable, Codable {
    /// The Canary's own name; events start with its `name` (`web: ...`).
    public var name: ResourceName
    /// The VirtualService whose route weights the rollout owns.
    public var targetRef: ResourceName
    /// What serves before the first release, when written; optional. Serin reads what serves from the routes and,
    /// once releases promote, from the rollout's own state: a written stable must be that destination.
    public var stable: Destination?
    /// The version to release; a new one starts a new release against whatever serves now.
    public var canary: Destination
    public var analysis: AnalysisSpec
    /// Promote without analysis once the confirm-rollout gate opens (Flagger's `skipAnalysis`).
    public var skipAnalysis: Bool
    /// The Deployment (in the Canary's namespace) behind the canary destination: before each step it must be
    /// fully rolled out and available. Nil: nothing to wait for.
    public var canaryDeployment: String?
    /// Flagger's shape: the Canary targets a Deployment and Serin owns the primary, Services and VirtualService
    /// (`stable` is then `NAME-primary`, `canary` `NAME-canary`, `targetRef` the VirtualService `NAME`).
    public var workload: CanaryWorkload?
    /// Flagger's `suspend`: while true Serin does not act on the Canary. A rollout in progress holds where it is (as
    /// `pause` holds it), a new release waits, and nothing is created or changed for it; false again, it goes on.
    public var suspend: Bool

    public init(
        name: ResourceName, targetRef: ResourceName, stable: Destination?, canary: Destination,
        analysis: AnalysisSpec, skipAnalysis: Bool = false, canaryDeployment: String? = nil, workload: CanaryWorkload? = nil,
        suspend: Bool = false
    ) {
        self.workload = workload
        self.suspend = suspend
        self.name = name
        self.targetRef = targetRef
        self.stable = stable
        self.canary = canary
        self.analysis = analysis
        self.skipAnalysis = skipAnalysis
        self.canaryDeployment = canaryDeployment
    }

    private enum CodingKeys: String, CodingKey {
        case name, targetRef, stable, canary, analysis, skipAnalysis, canaryDeployment, workload, suspend
    }

    /// Reads state stored before `suspend` existed as not suspended.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(ResourceName.self, forKey: .name),
            targetRef: try container.decode(ResourceName.self, forKey: .targetRef),
            stable: try container.decodeIfPresent(Destination.self, forKey: .stable),
            canary: try container.decode(Destination.self, forKey: .canary),
            analysis: try container.decode(AnalysisSpec.self, forKey: .analysis),
            skipAnalysis: try container.decode(Bool.self, forKey: .skipAnalysis),
            canaryDeployment: try container.decodeIfPresent(String.self, forKey: .canaryDeployment),
            workload: try container.decodeIfPresent(CanaryWorkload.self, forKey: .workload),
            suspend: try container.decodeIfPresent(Bool.self, forKey: .suspend) ?? false
        )
    }

    /// Whether moving from `self` to `other` is a new revision that restarts a rollout from the first step,
    /// rather than analysis settings adopted in place. `stable` is not part of it: a written stable only
    /// confirms what serves (`Rollout.conflict(with:)` refuses one that does not).
    /// In Flagger's shape the canary is the workload's Service, whose port follows `service.port`: a new port is
    /// the same version served on another port, not a new release.
    public func isNewRevision(comparedTo other: CanarySpec) -> Bool {
        let sameCanary = workload != nil ? canary.isSameVersion(as: other.canary) : canary == other.canary
        return name != other.name || targetRef != other.targetRef || !sameCanary
            || analysis.schedule != other.analysis.schedule || workload?.revision != other.workload?.revision
    }
}
