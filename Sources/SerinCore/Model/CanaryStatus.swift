/// One Canary's state as the API, CLI and dashboard show it.
public struct CanaryStatus: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var phase: RolloutPhase
    /// Flagger's phase for the same state (`Waiting` at a closed confirm-rollout gate, `WaitingPromotion` at a closed
    /// confirm-promotion gate, where `phase` says Progressing), which CI jobs and runbooks written for Flagger wait
    /// on. Nil from a server that predates it.
    public var flaggerPhase: String?
    public var stage: String
    public var canaryWeight: Int
    public var stableWeight: Int
    /// True when the router refused these weights (nothing serves the canary, the API refused the write): the
    /// routes still carry the weights before them, and the step is checked again. Nil otherwise.
    public var weightsRefused: Bool?
    /// True while a finished rollout's last weights (all to the canary, or all back to the stable) are sent and the
    /// router has not applied them yet: its last word ("promotion completed") waits for them. Nil otherwise.
    public var weightsPending: Bool?
    /// True when the Canary, as now written, was refused before any rollout ran it: it drives no routes, which
    /// serve what their VirtualService says, so the weights above are only what it would start with. Nil otherwise.
    public var refusedBeforeStart: Bool?
    /// True while the Canary's `spec.suspend` is true: Serin does not act on it (a rollout in progress holds, phase
    /// Paused; a new release waits) until it is false. Nil otherwise.
    public var suspended: Bool?
    /// What serves the traffic the canary does not take: the stable, or the canary once promoted.
    public var stable: String
    /// The release in flight, or the last one (once `promoted`, the version that is now `stable`).
    public var canary: String
    /// True once promotion has given the canary all the traffic: it is `stable` now, at `stableWeight` 100 and
    /// `canaryWeight` 0, as Flagger shows a Succeeded canary. Nil otherwise.
    public var promoted: Bool?
    /// The Canary's train, oldest first: each release's stable and canary, and how it ended.
    public var releases: [ReleaseStatus]
    /// 1-based step of the weight schedule, nil before the first step.
    public var step: Int?
    public var steps: Int
    /// `blueGreen` when the steps are `analysis.iterations` at canary weight 0, `abTesting` when matching
    /// requests reach the canary meanwhile (`analysis.match`), `blueGreenMirroring` when a copy of the requests
    /// goes to it (`analysis.mirror`), `canary` for weight steps; nil from a server that predates strategies (read
    /// as `canary`).
    public var strategy: String?
    public var failedChecks: Int
    public var threshold: Int
    /// Checks run in this release so far, whatever they found, named as Flagger's `status.iterations`. Not the
    /// position: that is `step` of `steps`, which blue/green and A/B testing show as `iteration N/M`. Read as 0 from
    /// a server that predates the name (it said `iteration`).
    @ZeroWhenAbsent public var iterations: Int
    public var message: String?
    /// Seconds since the Unix epoch of the last phase change (RFC 3339 in JSON), named as Flagger's
    /// `status.lastTransitionTime`.
    @OptionalRFC3339Time public var lastTransitionTime: Double?
    /// The request key that pins each client to one side (`analysis.stickiness`), e.g. `header x-user-id`.
    public var stickiness: String?
    /// A/B testing's match as people read it (`header x-canary = insider`, several joined by `or`); nil otherwise.
    public var abMatch: String?
    /// `mirrorWeight`: the percentage of requests copied to the canary at weight 0 (each iteration of blue/green with
    /// mirroring, or the first step of weight steps with `mirror`); nil without mirroring.
    public var mirrorWeight: Double?
    /// True while the routes copy `mirrorWeight` percent of the requests to the canary (a step at weight 0 runs or
    /// waits paused); nil otherwise, and from a server that predates it.
    public var mirroring: Bool?
    /// `analysis.load` as people read it (`10 req/s for 8s of every 10s to each of canary and stable, GET /`);
    /// nil when the Canary sends none.
    public var syntheticLoad: String?
    /// The newest measurement of each metric in the current release, with its verdict (none yet right after
    /// `rollout` starts a new release: the last one's verdicts are in its history, not here).
    public var lastMeasurements: [RecordedMeasurement]

    /// Whether `syntheticLoad` is being sent now: only while the rollout progresses (it stops at a pause, a
    /// promotion or a rollback).
    public var sendsLoadNow: Bool { syntheticLoad != nil && phase == .progressing }

    /// Whether requests are being copied to the canary now: while a step at weight 0 runs or waits paused (each
    /// iteration, or the first of weight steps), not once the weights rise, nor after promotion or rollback.
    public var mirrorsNow: Bool { mirroring == true && mirrorWeight != nil }

    public init(rollout: Rollout, measurements: [RecordedMeasurement]) {
        let status = rollout.status
        name = rollout.spec.name.name
        namespace = rollout.spec.name.namespace
        phase = status.phase
        flaggerPhase = status.flaggerPhase
        stage = "\(status.stage)"
        canaryWeight = status.canaryWeightShown
        stableWeight = 100 - status.canaryWeightShown
        promoted = status.isHandedOver ? true : nil
        weightsRefused = status.weightsRefused == true ? true : nil
        weightsPending = status.lastWordAwaitsWeights == true && status.weightsRefused != true ? true : nil
        suspended = rollout.spec.suspend ? true : nil
        stable = status.stableShown.description
        canary = status.canary.description
        releases = status.releases.map(ReleaseStatus.init)
        step = status.stepIndex.map { $0 + 1 }
        steps = rollout.spec.analysis.schedule.steps
        let analysis = rollout.spec.analysis
        strategy = analysis.isABTesting ? "abTesting" : analysis.isBlueGreenMirroring ? "blueGreenMirroring"
            : analysis.schedule.isBlueGreen ? "blueGreen" : "canary"
        mirrorWeight = analysis.mirror?.value
        mirroring = rollout.isMirroring ? true : nil
        syntheticLoad = analysis.load.map { load in
            let share = load.duration.map { "for \(Readable.duration($0)) of every \(Readable.duration(analysis.interval))" } ?? "throughout the analysis"
            return "\(Readable.trimmed(load.rps)) req/s \(share) to each of canary and stable, GET \(load.path)"
        }
        abMatch = analysis.isABTesting ? rollout.abSummary : nil
        failedChecks = status.failedChecks
        threshold = rollout.spec.analysis.threshold
        iterations = status.iteration
        message = status.message
        lastTransitionTime = status.lastTransitionAt.map { Double($0.sinceEpoch.components.seconds) }
        stickiness = rollout.spec.analysis.stickiness?.description
        // A release's first check comes an interval after it starts; one at its very start belongs to the last.
        let releaseStart = status.releases.last?.startedAt
        lastMeasurements = measurements.filter { measurement in releaseStart.map { measurement.instant > $0 } ?? true }
    }
}

extension CanaryStatus {
    /// Whether the steps are iterations at canary weight 0: blue/green (with mirroring or not), or A/B testing.
    public var isBlueGreen: Bool { ["blueGreen", "blueGreenMirroring", "abTesting"].contains(strategy) }

    /// The split as people read it: `80/20`, `80/20 (refused)` while the routes do not carry it, and `-` for a
    /// Canary refused before it ran (it drives no weights).
    public var weightsLabel: String {
        if refusedBeforeStart == true { return "-" }
        return "\(stableWeight)/\(canaryWeight)" + (weightsRefused == true ? " (refused)" : "")
    }

    /// The canary as people read it: `web-v2-service:80`, or `web-v2-service:80 (promoted)` once it is the stable.
    public var canaryLabel: String { promoted == true ? "\(canary) (promoted)" : canary }

    /// The split between the release's own stable and canary (`releases.last`), which the routes carry: after
    /// promotion 0/100, where `stableWeight`/`canaryWeight` read 100/0 beside the promoted `stable`.
    public var releaseWeights: (stable: Int, canary: Int) { promoted == true ? (0, 100) : (stableWeight, canaryWeight) }

    /// The phase as `serin status` prints it: Flagger's `Waiting` or `WaitingPromotion` while a gate holds a progressing
    /// rollout, else `phase`.
    public var phaseLabel: String {
        guard phase == .progressing, let flaggerPhase, flaggerPhase.hasPrefix("Waiting") else { return phase.rawValue }
        return flaggerPhase
    }

    /// The step out of all of them: `2/5`, `-/5` before the first.
    public var stepProgress: String { "\(step.map(String.init) ?? "-")/\(steps)" }

    /// Where the rollout is as people read it: `step 2/5`, or `iteration 3/10` for blue/green.
    public var stepLabel: String { "\(isBlueGreen ? "iteration" : "step") \(stepProgress)" }

    /// A Canary no rollout runs yet, as its spec would start: its stable, when not written, is the controller's to find.
    public static func unstarted(_ spec: CanarySpec) throws -> CanaryStatus {
        CanaryStatus(rollout: try Rollout(spec: spec, stable: spec.stable ?? Destination(host: "unknown")), measurements: [])
    }

    /// A Canary refused before any rollout ran it; nil when its spec cannot start one at all.
    public static func refused(_ spec: CanarySpec, reason: String) -> CanaryStatus? {
        guard var status = try? unstarted(spec) else { return nil }
        status.message = refusalMessage(reason)
        status.refusedBeforeStart = true
        return status
    }

    /// How a status says its Canary, as now written, was refused.
    public static func refusalMessage(_ reason: String) -> String { "refused: \(reason)" }
}

/// One release of a Canary's train as the API shows it.
public struct ReleaseStatus: Codable, Sendable, Equatable {
    public var stable: String
    public var canary: String
    /// `Progressing`, `Promoted`, `RolledBack` or `Superseded`.
    public var outcome: String
    public var reason: String?
    /// Seconds since the Unix epoch (RFC 3339 in JSON).
    @RFC3339Time public var started: Double
    @OptionalRFC3339Time public var ended: Double?
    /// For a Deployment target (Flagger's shape), the workload revisions the primary served and the release brought.
    public var stableRevision: String?
    public var canaryRevision: String?

    public init(_ release: Release) {
        stable = release.stable.description
        canary = release.canary.description
        outcome = release.outcome.rawValue
        reason = release.reason
        started = release.startedAt.unixSeconds
        ended = release.endedAt?.unixSeconds
        stableRevision = release.stableRevision
        canaryRevision = release.canaryRevision
    }
}

/// What happened to a command sent to a Canary.
public enum CommandReply: Sendable, Equatable {
    case accepted(CanaryStatus)
    case rejected(String)
    case notFound(String)
}

/// A change a watcher (the event stream, the dashboard) wants to hear about.
public enum ControllerUpdate: Sendable, Equatable {
    case event(canary: ResourceName, RolloutEvent)
    case measured(RecordedMeasurement)
    case phase(canary: ResourceName, RolloutPhase)
    /// The router now sends these percentages to stable and canary.
    /// The router applied a split: its weights, and the versions they go to (after a promotion the next release's
    /// 100/0 is another stable's).
    case weights(canary: ResourceName, stableWeight: Int, canaryWeight: Int, stable: Destination, canaryDestination: Destination)
}

/// A `ControllerUpdate` numbered in the order the controller made it (from 1 since start), so a reader
/// can tell what it missed.
public struct SequencedUpdate: Sendable, Equatable {
    public var sequence: Int
    public var update: ControllerUpdate

    public init(sequence: Int, update: ControllerUpdate) {
        self.sequence = sequence
        self.update = update
    }
}

extension RolloutInstant {
    /// Seconds since the Unix epoch, for instants taken by `WallClock`.
    public var unixSeconds: Double {
        sinceEpoch.inSeconds
    }
}
