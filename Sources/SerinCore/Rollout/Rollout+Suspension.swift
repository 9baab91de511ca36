// Flagger's `spec.suspend`: while it is true Serin does not act on the Canary. A rollout in progress holds where it
// is, as `pause` holds it (phase Paused, nothing checked, the held time not counted towards the progress deadline); a
// new release waits; a rollback still runs to the end (it restores stable traffic) and a finished rollout stays as it
// is; new settings of a live rollout's routes wait too. Unsuspended, a rollout the suspension held goes on as `resume`
// would, and a release it held back starts; a rollout a person paused stays paused; the routes take the settings at
// once. `status.suspended` tells the suspension's hold from a person's pause.
extension Rollout {
    /// Whether the Canary is suspended while its rollout is live (not rolling back, not finished): the commands that
    /// would move it (`resume`, `promote`) are refused until the spec is unsuspended.
    var isSuspendedMidRollout: Bool {
        spec.suspend && [.progressing, .promoting, .paused].contains(status.phase)
    }

    /// Whether `spec.suspend` holds back a new release of a finished rollout: a command on it is about that release,
    /// and is refused for the suspension, not for the phase of the release before it.
    var holdsReleaseSuspended: Bool {
        spec.suspend && status.releaseHeld == true
    }

    /// Whether the controller should `start` this rollout: created and not started, nor held by `spec.suspend`
    /// (a suspended Canary's start is said once, then waits for the spec).
    public var awaitsStart: Bool {
        status.phase == .initialized && !status.isBaseline && status.suspended != true
    }

    /// Whether `spec` starts a new release of this rollout, which has finished (or is Flagger's baseline): a new
    /// canary is a new release to roll out, and a failed one is tried again with its new schedule. A promoted canary
    /// is not released again, and a finished rollout only adopts a spec that changes nothing of what it releases.
    /// None starts while `spec.suspend` is true; one it held back starts once it is false.
    public func startsRelease(with spec: CanarySpec) -> Bool {
        guard !spec.suspend, status.phase.isFinished || status.isBaseline else { return false }
        return status.releaseHeld == true || isRelease(of: spec)
    }

    /// Whether `newSpec` is a release of its own after this finished rollout (`startsRelease`), suspended or not.
    private func isRelease(of newSpec: CanarySpec) -> Bool {
        spec.isNewRevision(comparedTo: newSpec)
            && (status.phase == .failed || newSpec.workload != nil || !newSpec.canary.isSameVersion(as: status.canary))
    }

    /// `start` of a suspended Canary: nothing is released or initialized; said once, then it waits for the spec.
    mutating func holdStart(now: RolloutInstant) -> RolloutOutcome {
        guard status.suspended != true else { return .accepted([]) }
        var actions: [RolloutAction] = []
        status.suspended = true
        let what = spec.workload.map { "\($0.deployment) is not initialized" } ?? "canary \(spec.canary) is not released"
        record(.normal, "suspended: spec.suspend is true; \(what) until it is false", now: now, into: &actions)
        return .accepted(actions)
    }

    /// The spec changed to a suspended one (`specChanged`): adopted, without a step of the rollout. Suspending holds a
    /// live rollout where it is; a new release (another canary or revision) is held back until the spec is
    /// unsuspended, and said so; so are new settings of a live rollout's routes (`status.routesHeld`). No action
    /// changes the routes or the workloads.
    mutating func adoptSuspended(_ newSpec: CanarySpec, now: RolloutInstant) -> [RolloutAction] {
        let suspending = !spec.suspend
        let routes = split
        let release: Bool
        switch status.phase {
        case .initialized where !status.isBaseline: release = false  // Nothing started: its start waits anyway.
        case .initialized, .succeeded, .failed: release = isRelease(of: newSpec)
        case .progressing, .promoting, .rollingBack, .paused: release = spec.isNewRevision(comparedTo: newSpec)
        }
        spec = newSpec
        if newSpec.workload != nil { status.followPorts(of: newSpec) }
        if status.phase == .initialized && !status.isBaseline { status.canary = newSpec.canary }
        // A rollback still sets its weights, with these settings; a finished rollout's routes are the release's end.
        if split != routes, [.progressing, .promoting, .paused].contains(status.phase) { status.routesHeld = true }
        var actions: [RolloutAction] = []
        if suspending { suspend(now: now, into: &actions) }
        if release {
            status.releaseHeld = true
            let what = newSpec.workload.map { "\($0.deployment) revision \($0.revision ?? "unknown")" } ?? "canary \(newSpec.canary)"
            record(.normal, "suspended: spec.suspend is true; the new release of \(what) waits until it is false", now: now, into: &actions)
        }
        return actions
    }

    /// The spec was just suspended: a progressing or promoting rollout holds where it is (as `pause` holds it), a
    /// baseline waiting for its primary stops asking; a person's pause stays theirs, a rollback runs to the end.
    private mutating func suspend(now: RolloutInstant, into actions: inout [RolloutAction]) {
        let weight = "canary weight \(status.canaryWeight)%"
        switch status.phase {
        case .progressing, .promoting:
            holdInPlace(now: now, into: &actions)
            status.suspended = true
            record(.normal, "suspended: spec.suspend is true; the rollout holds at \(weight) until it is false", now: now, into: &actions)
        case .paused:
            record(.normal, "suspended: spec.suspend is true; paused by serin pause at \(weight), the rollout stays paused once it is false, until serin resume",
                   now: now, into: &actions)
        case .rollingBack:
            record(.normal, "suspended: spec.suspend is true; the rollback in progress still runs to the end: it restores stable traffic",
                   now: now, into: &actions)
        case .initialized where status.stage == .primaryRollout:
            // The primary is not asked again, and an answer in flight is stale: the target is not scaled meanwhile.
            status.pending = nil
            status.nextCheckAt = nil
            status.suspended = true
            record(.normal, "suspended: spec.suspend is true; initialization holds until it is false", now: now, into: &actions)
        case .initialized where !status.isBaseline:
            // Not started: `start` holds it.
            break
        case .initialized, .succeeded, .failed:
            record(.normal, "suspended: spec.suspend is true; no new release starts until it is false", now: now, into: &actions)
        }
    }

    /// The spec was just unsuspended: a rollout the suspension held goes on as `resume` would, a baseline asks for its
    /// primary again, and a rollout a person paused stays paused. A release held back starts after this (`specChanged`
    /// for a live rollout, `startsRelease` for a finished one).
    mutating func liftSuspension(now: RolloutInstant, into actions: inout [RolloutAction]) {
        switch status.phase {
        case .paused where status.suspended == true:
            resumeHeld(now: now, saying: "resumed: spec.suspend is false, at canary weight \(status.canaryWeight)%", into: &actions)
        case .paused:
            record(.normal, "spec.suspend is false; the rollout stays paused at canary weight \(status.canaryWeight)% until serin resume",
                   now: now, into: &actions)
        case .initialized where status.stage == .primaryRollout && status.suspended == true:
            status.suspended = nil
            record(.normal, "resumed: spec.suspend is false", now: now, into: &actions)
            enter(.primaryRollout, now: now, into: &actions)
        case .initialized, .progressing, .promoting, .rollingBack, .succeeded, .failed:
            status.suspended = nil
            record(.normal, "resumed: spec.suspend is false", now: now, into: &actions)
        }
    }
}
