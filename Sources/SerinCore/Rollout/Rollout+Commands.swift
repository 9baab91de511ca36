extension Rollout {
    /// `promote`: skip the remaining steps and gates and send all traffic to the canary now.
    /// A person's command overrides the confirm gates. At a step paced with `pause: promote`, it only releases
    /// that pause: the step ends at once, as a passing analysis would end it (through the confirm-traffic-increase
    /// gate to the next step, or, at the last step, through the confirm-promotion gate to promotion).
    /// During a gradual promotion (`stepWeightPromotion`) it takes the remaining steps at once.
    public mutating func promote(now: RolloutInstant) -> RolloutOutcome {
        if isSuspendedMidRollout || holdsReleaseSuspended { return .rejected(.suspended(.promote)) }
        var actions: [RolloutAction] = []
        // Paused by a person, promote un-pauses as it would resume, then does what it does from there.
        let pausedFrom = status.phase == .paused ? status.pausedFrom : nil
        if (status.phase == .promoting || pausedFrom == .promoting), status.stage == .promotionSteps {
            unpause(now: now, into: &actions)
            record(.normal, "serin promote: the remaining promotion steps are taken at once", now: now, into: &actions)
            stepPromotion(now: now, by: 100, into: &actions)
            return .accepted(actions)
        }
        guard status.phase == .progressing || pausedFrom == .progressing else {
            return .rejected(.commandNotAllowed(.promote, phase: status.phase))
        }
        if status.stage == .analysis, let step = status.stepIndex, spec.analysis.schedule.pause(atStep: step) == .promote {
            unpause(now: now, into: &actions)
            // An analysis or rollout hook in flight is for a step that is over: its answer is refused as stale.
            status.pending = nil
            markProgress(now: now)
            let next = spec.analysis.schedule.isLastStep(step) ? "the last step, promoting" : "moving to the next step"
            record(.normal, "serin promote released the pause at canary weight \(status.canaryWeight)%: \(next)",
                   now: now, into: &actions)
            endStep(now: now, into: &actions)
            return .accepted(actions)
        }
        var announcement = "promotion requested, promoting canary \(status.canary) to 100%"
        // A gate waiting for its hooks' yes is passed over: said, so a receiver's missing answer is not a mystery.
        if let gate = WebhookType(rawValue: status.stage.rawValue), [.confirmRollout, .confirmTrafficIncrease, .confirmPromotion].contains(gate),
            spec.analysis.webhooks.contains(where: { $0.type == gate })
        {
            announcement += "; the \(gate) gate it waited at is skipped"
        }
        promote(now: now, announcement: announcement, into: &actions)
        return .accepted(actions)
    }

    /// `abort`: roll back now, from any live phase (a promotion still running its post-rollout hooks included), a
    /// suspended Canary's too: a rollback restores stable traffic, and safety comes first.
    public mutating func abort(now: RolloutInstant) -> RolloutOutcome {
        switch status.phase {
        case .progressing, .promoting, .paused:
            var actions: [RolloutAction] = []
            rollBack(now: now, reason: "abort requested", into: &actions)
            return .accepted(actions)
        case .initialized, .rollingBack, .succeeded, .failed:
            return .rejected(.commandNotAllowed(.abort, phase: status.phase))
        }
    }

    /// `pause`: hold a progressing or promoting rollout where it is. Nothing is checked while paused,
    /// answers to requests in flight are refused as stale, and paused time does not count towards the
    /// progress deadline. A rollback cannot be paused: it restores stable traffic and must finish.
    /// A rollout `spec.suspend` holds is paused by the person too: it stays paused once the spec is unsuspended.
    public mutating func pause(now: RolloutInstant) -> RolloutOutcome {
        if holdsReleaseSuspended { return .rejected(.suspended(.pause)) }
        var actions: [RolloutAction] = []
        if status.phase == .paused, status.suspended == true {
            status.suspended = nil
            record(.normal, "paused at canary weight \(status.canaryWeight)%: it stays paused once spec.suspend is false, until serin resume",
                   now: now, into: &actions)
            return .accepted(actions)
        }
        guard status.phase == .progressing || status.phase == .promoting else {
            return .rejected(.commandNotAllowed(.pause, phase: status.phase))
        }
        holdInPlace(now: now, into: &actions)
        record(.normal, "paused at canary weight \(status.canaryWeight)%", now: now, into: &actions)
        return .accepted(actions)
    }

    /// Holds a progressing or promoting rollout where it is, as `pause` does: nothing is asked meanwhile, and answers
    /// to requests in flight are refused as stale.
    mutating func holdInPlace(now: RolloutInstant, into actions: inout [RolloutAction]) {
        status.pausedFrom = status.phase
        status.pending = nil
        status.nextCheckAt = nil
        transition(to: .paused, now: now, into: &actions)
    }

    /// Back to the phase a person's pause held, without a word of its own: the command that un-pauses says what it does.
    private mutating func unpause(now: RolloutInstant, into actions: inout [RolloutAction]) {
        guard status.phase == .paused, let phase = status.pausedFrom else { return }
        status.pausedFrom = nil
        status.suspended = nil
        status.lastProgressAt = now
        transition(to: phase, now: now, into: &actions)
    }

    /// `resume`: return to the phase the rollout paused from. The progress deadline starts afresh, an
    /// analysis gets a full new interval of data, and a gate or hook that was waiting is asked again now.
    public mutating func resume(now: RolloutInstant) -> RolloutOutcome {
        if isSuspendedMidRollout || holdsReleaseSuspended { return .rejected(.suspended(.resume)) }
        guard status.phase == .paused, status.pausedFrom != nil else {
            return .rejected(.commandNotAllowed(.resume, phase: status.phase))
        }
        var actions: [RolloutAction] = []
        resumeHeld(now: now, saying: "resumed at canary weight \(status.canaryWeight)%", into: &actions)
        return .accepted(actions)
    }

    /// Back from a pause (a person's or a suspension's) to the phase it held, saying `announcement`: the progress
    /// deadline starts afresh, an analysis gets a full new interval of data, and a waiting gate or hook is asked again.
    mutating func resumeHeld(now: RolloutInstant, saying announcement: String, into actions: inout [RolloutAction]) {
        guard status.phase == .paused, status.pausedFrom != nil else { return }
        unpause(now: now, into: &actions)
        record(.normal, announcement, now: now, into: &actions)
        if status.stage == .analysis {
            status.nextCheckAt = now + spec.analysis.interval
            // A paced step's hold is what the rollout waits for still: said again, not left behind "resumed".
            if let hold = pauseHolding(now: now), status.holdReason == hold.reason { record(.normal, hold.reason, now: now, into: &actions) }
        } else {
            enter(status.stage, now: now, into: &actions)
        }
    }

    /// `rollout`: start again from the first step with the current spec, from any phase
    /// (a finished rollout included). Un-pauses: the person asked for a rollout now.
    /// Refused once the canary serves all traffic as the promoted stable: releasing it again would send traffic
    /// back to the version it replaced.
    /// Refused while the Canary is suspended (`spec.suspend`): no release starts until it is unsuspended.
    public mutating func restart(now: RolloutInstant) -> RolloutOutcome {
        if spec.suspend { return .rejected(.suspended(.restart)) }
        if status.isPromoted && spec.canary.isSameVersion(as: status.canary) {
            return .rejected(.releaseConflict(.canaryAlreadyServes(spec.canary)))
        }
        if let workload = spec.workload, workload.revision != nil, workload.revision == status.stableRevision {
            return .rejected(.releaseConflict(.revisionAlreadyServes(deployment: workload.deployment, revision: workload.revision ?? "")))
        }
        var actions: [RolloutAction] = []
        // A release of the canary the last one released is run again; another canary is a release of its own.
        let again = status.phase != .initialized && status.releases.last.map { $0.canary.isSameVersion(as: spec.canary) } == true
        let verb = again ? "restarted" : "started"
        beginRollout(now: now, announcement: "rollout \(verb): canary \(spec.canary), stable \(status.servingStable)",
                     keepPaused: false, into: &actions)
        return .accepted(actions)
    }

    /// A command by name, as the API and CLI send it.
    public mutating func execute(_ command: RolloutCommand, now: RolloutInstant) -> RolloutOutcome {
        switch command {
        case .start: return start(now: now)
        case .promote: return promote(now: now)
        case .abort: return abort(now: now)
        case .pause: return pause(now: now)
        case .resume: return resume(now: now)
        case .restart: return restart(now: now)
        }
    }
}
