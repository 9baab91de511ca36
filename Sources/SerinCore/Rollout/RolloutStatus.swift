/// Everything a rollout knows about its progress, readable by anyone and `Codable` so a store can persist
/// it and a restarted controller resumes at the same step with the same weights.
public struct RolloutStatus: Hashable, Sendable, Codable {
    /// A request the rollout waits on; its answer must carry the same ticket.
    public struct Pending: Hashable, Sendable, Codable {
        /// What the rollout waits for: one type of webhooks, or an analysis verdict.
        public enum Kind: Hashable, Sendable, Codable {
            case webhooks(WebhookType)
            case analysis
            /// Whether the canary Deployment is ready for step `step`.
            case workload(step: Int)
            /// Whether the primary has rolled out the promoted template.
            case primaryRollout
        }

        public var ticket: RolloutTicket
        public var kind: Kind
    }

    public internal(set) var phase: RolloutPhase
    public internal(set) var stage: RolloutStage
    /// Index into the weight schedule; nil before the first weight is set.
    public internal(set) var stepIndex: Int?
    public internal(set) var canaryWeight: Int
    /// Failed checks in this rollout. Like Flagger, a pass does not reset it.
    public internal(set) var failedChecks: Int
    /// Checks decided in this rollout: verdicts accepted plus failed rollout hooks.
    public internal(set) var iteration: Int
    /// When the phase last changed.
    public internal(set) var lastTransitionAt: RolloutInstant?
    /// When the rollout last advanced (started, a gate opened, a weight went up, it promoted or rolled back);
    /// the progress deadline counts from here.
    public internal(set) var lastProgressAt: RolloutInstant?
    /// When the next interval's checks are due; nil while waiting on a request or not progressing.
    public internal(set) var nextCheckAt: RolloutInstant?
    /// The phase `resume` returns to.
    public internal(set) var pausedFrom: RolloutPhase?
    /// The release in flight (or the last one): the version it moves traffic to, and what served when it began.
    /// Once it promotes, the canary is what serves: see `servingStable`.
    public internal(set) var canary: Destination
    public internal(set) var stable: Destination
    /// The last event's message.
    public internal(set) var message: String?
    /// Why the rollout is not advancing right now (a closed gate, inconclusive data, a failed check).
    public internal(set) var holdReason: String?
    public internal(set) var pending: Pending?
    /// Tickets are numbered from here, never reused, so an answer from before a restart cannot match.
    public internal(set) var lastTicket: Int
    /// When the current step's weight was set: the statistical judge reads the whole step from here.
    public internal(set) var stepStartedAt: RolloutInstant?
    /// The router refused the current step's weights (`weightsFailed`): the step's next pass sets them again
    /// instead of advancing. Nil once they are sent again, and in state stored before this was kept.
    public internal(set) var weightsRefused: Bool?
    /// The rollout finished in the step that sent its last weights, or its promotion's weights were refused: its last
    /// word, which says whether all traffic is on stable (a rollback) or promoted (a promotion), waits for the router's
    /// answer (`weightsApplied`, `weightsFailed`). Nil otherwise, and in state stored before this was kept.
    public internal(set) var lastWordAwaitsWeights: Bool?
    /// `spec.suspend` holds this rollout, not a person: Paused from a live phase (or a start or initialization not
    /// taken), it goes on as `resume` would once the spec is unsuspended. Nil otherwise — a rollout `pause`d by a person
    /// stays paused after the suspension — and in state stored before this was kept.
    public internal(set) var suspended: Bool?
    /// A new release (another canary or revision) came while `spec.suspend` was true: it starts once it is false.
    /// Nil otherwise, and in state stored before this was kept.
    public internal(set) var releaseHeld: Bool?
    /// Settings that change the routes (an A/B match, stickiness, a port) came while `spec.suspend` was true and the
    /// rollout was live: the routes take them once it is false. Nil otherwise, and in state stored before this was kept.
    public internal(set) var routesHeld: Bool?

    /// The newest releases of this Canary, oldest first (at most `Release.kept`); nil in state stored before
    /// releases were recorded.
    var releaseLog: [Release]?
    /// The stable the last promotion replaced (`retiredVersions` has every one before it).
    public internal(set) var retiredStable: Destination?
    /// Flagger's shape (`CanaryWorkload`): the primary always serves, and promotion copies the canary into it
    /// instead of handing the stable role over.
    public internal(set) var primaryServes: Bool?
    /// In Flagger's shape, the workload revision the primary serves.
    public internal(set) var stableRevision: String?
    /// A workload Canary seen for the first time: the primary serves the target's revision, nothing to release
    /// (while `stage` is `.primaryRollout`, the target is scaled to zero once the primary is ready).
    /// Flagger's phase for this status, where a Flagger user reads it (its CRD's status, a webhook's payload): its
    /// enum has no rolling back (that is still Progressing; the condition says RollingBack) and no pause (Waiting, as
    /// at a gate), and tells the confirm gates apart.
    public var flaggerPhase: String {
        switch phase {
        // Initialized once the primary serves; before that (its rollout, or a start `spec.suspend` holds) Initializing.
        case .initialized: return stage == .finished ? "Initialized" : "Initializing"
        case .progressing where stage == .confirmRollout: return "Waiting"
        case .progressing where stage == .confirmPromotion: return "WaitingPromotion"
        case .progressing, .rollingBack: return "Progressing"
        case .promoting: return "Promoting"
        case .succeeded: return "Succeeded"
        case .failed: return "Failed"
        case .paused: return "Waiting"
        }
    }

    public var isBaseline: Bool { phase == .initialized && (stage == .finished || stage == .primaryRollout) }

    public var stableWeight: Int { 100 - canaryWeight }

    /// The newest releases of this Canary, oldest first.
    public var releases: [Release] { releaseLog ?? [] }

    /// Every version that served as the stable before the current one, the latest first: a route that still
    /// names any of them (a VirtualService reloaded from files written for the first release, after several) is
    /// the Canary's and loses it. The canary is never among them: a route only to it is the user's.
    public var retiredVersions: [Destination] {
        ([retiredStable].compactMap { $0 } + releases.reversed().map(\.stable))
            .filter { !$0.isSameVersion(as: stable) && !$0.isSameVersion(as: canary) }
            .oneOfEachVersion()
    }

    /// Flagger's shape, after `service.port` changed: the primary and the canary are the same versions on the
    /// spec's new port, so the routes this rollout sets (its weights kept) send to that port, not the old one.
    mutating func followPorts(of spec: CanarySpec) {
        if let written = spec.stable, written.isSameVersion(as: stable) { stable.port = written.port }
        if spec.canary.isSameVersion(as: canary) { canary.port = spec.canary.port }
    }

    /// Whether the release handed the stable role to its canary: promotion moved all traffic to it, in the same
    /// step that set the last weight, so there is no moment where state and routes disagree about it.
    public var isPromoted: Bool {
        guard primaryServes != true else { return false }
        return phase == .promoting || phase == .succeeded || (phase == .paused && pausedFrom == .promoting)
    }

    /// What serves the traffic the canary does not take, and what the next release starts from: the stable, or
    /// the canary once it was promoted.
    public var servingStable: Destination { isPromoted ? canary : stable }

    /// What takes the stable's share of the traffic, as status, the API and the dashboard show it: the stable until
    /// promotion has given the canary all the traffic (`isHandedOver`). While `stepWeightPromotion` is still moving
    /// weight the next release would start from the canary (`servingStable`), but the stable still serves its share.
    public var stableShown: Destination { isHandedOver ? canary : stable }

    /// Whether promotion has given the canary all the traffic, so it is the stable now: what status, the API and the
    /// dashboard show as `stableShown` at 100%, with nothing left as the canary (Flagger shows a Succeeded canary at
    /// weight 0, its primary running the new version). Not while the router refuses those weights: the routes still
    /// carry the ones before.
    public var isHandedOver: Bool { isPromoted && canaryWeight >= 100 && weightsRefused != true }

    /// The canary's weight as status, the API and the dashboard show it: beside `stableShown`, so 0 once the
    /// promoted canary is the stable. `canaryWeight` is the release's split (100 after promotion), as its routes carry it.
    public var canaryWeightShown: Int { isHandedOver ? 0 : canaryWeight }

    init(canary: Destination, stable: Destination) {
        self.phase = .initialized
        self.stage = .notStarted
        self.stepIndex = nil
        self.canaryWeight = 0
        self.failedChecks = 0
        self.iteration = 0
        self.lastTransitionAt = nil
        self.lastProgressAt = nil
        self.nextCheckAt = nil
        self.pausedFrom = nil
        self.canary = canary
        self.stable = stable
        self.message = nil
        self.holdReason = nil
        self.pending = nil
        self.lastTicket = 0
        self.stepStartedAt = nil
        self.weightsRefused = nil
        self.lastWordAwaitsWeights = nil
        self.suspended = nil
        self.releaseHeld = nil
        self.routesHeld = nil
        self.releaseLog = nil
        self.retiredStable = nil
        self.primaryServes = nil
        self.stableRevision = nil
    }
}
