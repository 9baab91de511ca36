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

    public init(
        name: ResourceName, targetRef: ResourceName, stable: Destination?, canary: Destination,
        analysis: AnalysisSpec, skipAnalysis: Bool = false, canaryDeployment: String? = nil, workload: CanaryWorkload? = nil
    ) {
        self.workload = workload
        self.name = name
        self.targetRef = targetRef
        self.stable = stable
        self.canary = canary
        self.analysis = analysis
        self.skipAnalysis = skipAnalysis
        self.canaryDeployment = canaryDeployment
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
