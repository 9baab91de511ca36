// Paced steps: a step whose analysis passed still holds while its pause (`StepPause`) is not over.
extension Rollout {
    /// What still holds the current step after a passing analysis: its reason, and when to look again; nil when
    /// nothing does (no pause, or a timed pause that is over).
    func pauseHolding(now: RolloutInstant) -> (reason: String, checkAgainIn: Duration)? {
        guard let step = status.stepIndex, let pause = spec.analysis.schedule.pause(atStep: step) else { return nil }
        let weight = status.canaryWeight
        switch pause {
        case .duration(let length):
            let end = (status.stepStartedAt ?? now) + length
            guard now < end else { return nil }
            let label = spec.analysis.schedule.label(atStep: step)
            return ("paused at \(weight)% until \(Readable.clock(end)) UTC (step \(label) holds \(Readable.duration(length)))",
                    min(end - now, spec.analysis.interval))
        case .promote:
            return ("waiting for serin promote at \(weight)%", spec.analysis.interval)
        }
    }

    /// Whether a step that passed its analysis is held only for `serin promote` (its pause is `promote`).
    public var isWaitingForPromote: Bool {
        guard isAnalysing, let step = status.stepIndex,
            spec.analysis.schedule.pause(atStep: step) == .promote, let started = status.stepStartedAt
        else { return false }
        return status.holdReason == pauseHolding(now: started)?.reason
    }

    /// Hold a step that passed its analysis until its pause is over, still analysing each interval (a timed pause's
    /// end wakes the rollout). A passing step waits by design, so this counts as progress towards the deadline; the
    /// event is recorded when the hold begins or after a failed check changed the reason, not at every pass.
    mutating func holdForPause(_ pause: (reason: String, checkAgainIn: Duration), now: RolloutInstant, into actions: inout [RolloutAction]) {
        let changed = status.holdReason != pause.reason
        status.lastProgressAt = now
        status.holdReason = pause.reason
        status.nextCheckAt = now + pause.checkAgainIn
        if changed { record(.normal, pause.reason, now: now, into: &actions) }
    }

    /// The current step is over: on to the next one (through the confirm-traffic-increase gate), or after the last
    /// to the confirm-promotion gate. A blue/green iteration raises no weight, so no gate stands between iterations.
    mutating func endStep(now: RolloutInstant, into actions: inout [RolloutAction]) {
        let step = status.stepIndex ?? 0
        if spec.analysis.schedule.isLastStep(step) {
            enter(.confirmPromotion, now: now, into: &actions)
        } else if spec.analysis.schedule.isBlueGreen {
            setStep(step + 1, now: now, into: &actions)
        } else {
            enter(.confirmTrafficIncrease, now: now, into: &actions)
        }
    }
}
