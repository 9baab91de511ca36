/// The rollout brain: a pure state machine that walks a canary through gates, weight steps and analysis
/// to promotion or rollback.
///
/// Shaped like AsyncHTTPClient's connection-pool state machine: each `mutating` method is named after
/// something that happened (a tick, a verdict, a webhook answer, a command) and returns the actions the
/// caller must run (`setWeights`, `runWebhooks`, `analyze`, `record`...). It reads no clock (the caller
/// passes `now`), does no IO and draws no random numbers, so tests drive it with plain values.
///
/// The flow follows Flagger: confirm-rollout gate → pre-rollout hooks → confirm-traffic-increase gate → first
/// weight → every interval:
/// rollback hooks, rollout hooks, analysis; a pass goes through the confirm-traffic-increase gate to the
/// next weight, a fail counts towards `threshold`; after the last step the confirm-promotion gate leads to
/// promotion; post-rollout hooks run after promotion or rollback. Blue/green (`iterations`) keeps the canary at
/// weight 0 while each pass counts one iteration, then promotes 0 → 100 at once; A/B testing (`iterations` with
/// `match`) does the same while the matching requests go to the canary, and blue/green with mirroring (`mirror`)
/// while a copy of the requests goes to it.
public struct Rollout: Hashable, Sendable {
    public internal(set) var spec: CanarySpec
    public internal(set) var status: RolloutStatus

    /// A rollout of `spec`, initialized and not started, releasing from `stable` — what serves now, as
    /// `ServingRoutes.stable(for:)` found it — or from the spec's written stable. Throws every problem of an
    /// invalid spec, and when neither names a stable.
    public init(spec: CanarySpec, stable: Destination? = nil) throws(CanarySpecError) {
        try spec.validate()
        guard let serving = stable ?? spec.stable else {
            throw CanarySpecError(problems: [
                .init(field: "stable", message: "is not written and nothing says what serves now; write the destination the canary replaces")
            ])
        }
        self.spec = spec
        self.status = RolloutStatus(canary: spec.canary, stable: serving)
        if spec.workload != nil { status.primaryServes = true }
    }

    /// Why `newSpec` cannot be taken as it stands, judged against what serves now; nil when it can. A written
    /// stable must be what serves, and a new release must name a version other than the one that serves. The spec
    /// this rollout runs, written again (the same files applied or reloaded after its release), changes nothing and
    /// is no conflict, though its written stable is the version the release retired.
    public func conflict(with newSpec: CanarySpec) -> ReleaseConflict? {
        if newSpec == spec { return nil }
        let serving = status.servingStable
        if let written = newSpec.stable, !written.isSameVersion(as: serving) {
            return .stableNotServing(written: written, serving: serving)
        }
        // The promoted canary named again is the same release; any other canary that serves is nothing to release.
        let promotedAgain = status.isPromoted && newSpec.canary.isSameVersion(as: status.canary)
        if newSpec.canary.isSameVersion(as: serving) && !promotedAgain {
            return .canaryAlreadyServes(newSpec.canary)
        }
        return nil
    }

    /// Whether the routes are this rollout's to set: it has started, or (Flagger's shape) its baseline sent all
    /// traffic to the primary. Until then they are as the user wrote them.
    public var ownsRoutes: Bool { status.phase != .initialized || status.isBaseline }

    /// The routes as this rollout's state has them: what a router that lost them (a restart, a VirtualService
    /// applied again from its file) must put back.
    public var split: TrafficSplit {
        TrafficSplit(
            stable: WeightedDestination(destination: status.stable, weight: status.stableWeight),
            canary: WeightedDestination(destination: status.canary, weight: status.canaryWeight),
            retiring: status.retiredVersions, stickiness: spec.analysis.stickiness,
            canaryMatch: isAnalysingABTest ? spec.analysis.match : [],
            matchRouteName: spec.analysis.isABTesting ? TrafficSplit.matchRouteName(for: spec.name) : nil,
            mirror: isMirroring ? spec.analysis.mirror : nil, affinity: affinity)
    }

    /// Whether a copy of the requests goes to the canary now: while a step at weight 0 is analysed (each of
    /// blue/green's iterations, or the mirrored first step before the weights rise), paused or not.
    var isMirroring: Bool { isAnalysingSteps && status.canaryWeight == 0 && spec.analysis.mirror != nil }

    /// Whether matching requests reach the canary now (A/B testing): from the first iteration until the canary takes
    /// everyone (through a gradual promotion's steps, so the cohort tested never goes back to stable) or a
    /// rollback, paused or not.
    var isAnalysingABTest: Bool { spec.analysis.isABTesting && (isAnalysingSteps || isPromotingInSteps) }

    /// Whether the weight is rising by `stepWeightPromotion`'s steps towards 100%, paused or not (the split at 100%
    /// is the last of them, and leaves nothing for an A/B route to add).
    var isPromotingInSteps: Bool {
        let promoting = status.phase == .promoting || (status.phase == .paused && status.pausedFrom == .promoting)
        return promoting && status.stage == .promotionSteps && status.canaryWeight < 100
    }

    /// Whether the steps are under analysis: from the first step until promotion or rollback, paused or not —
    /// while A/B testing's route, blue/green's mirror and the sticky canary's pinning cookies stand.
    var isAnalysingSteps: Bool {
        let analysing = status.phase == .progressing || (status.phase == .paused && status.pausedFrom == .progressing)
        return analysing && status.stepIndex != nil
    }

    /// The sticky canary's cookies for the newest release: pinning while it is analysed, expiring after it; nil
    /// without `sessionAffinity` or before the first release.
    var affinity: TrafficSplit.Affinity? {
        guard let sessionAffinity = spec.analysis.sessionAffinity, let release = status.releases.last else { return nil }
        let value = TrafficSplit.Affinity.value(canary: spec.name, release: "\(release.canary)@\(release.startedAt.sinceEpoch)")
        return TrafficSplit.Affinity(sessionAffinity, canary: spec.name, value: value, pins: isAnalysingSteps)
    }

    /// Flagger's `status.sessionAffinityCookie`: the sticky canary's cookie (`name=value`) while it pins clients.
    public var sessionAffinityCookie: String? {
        affinity.flatMap { $0.pins ? "\($0.cookieName)=\($0.value)" : nil }
    }

    /// Flagger's `status.previousSessionAffinityCookie`: the last release's cookie once it pins nobody (its routes
    /// expire it).
    public var previousSessionAffinityCookie: String? {
        affinity.flatMap { $0.pins ? nil : "\($0.cookieName)=\($0.value)" }
    }

    /// When the caller should next call `tick`: the next interval's checks or the progress deadline,
    /// whichever comes first; nil when only another event can move the rollout.
    public var nextWakeUp: RolloutInstant? {
        let deadline = status.lastProgressAt.map { $0 + spec.analysis.progressDeadline }
        switch status.phase {
        case .progressing:
            let check = status.pending == nil ? status.nextCheckAt : nil
            return [deadline, check].compactMap { $0 }.min()
        case .promoting, .rollingBack:
            // A primary still rolling out the promoted template is asked again each interval.
            let check = status.pending == nil ? status.nextCheckAt : nil
            return [deadline, check].compactMap { $0 }.min()
        case .initialized where status.stage == .primaryRollout:
            return status.pending == nil ? status.nextCheckAt : nil
        case .initialized, .succeeded, .failed, .paused:
            return nil
        }
    }

    // MARK: - Events

    /// Begin the rollout: weights 100/0, then the confirm-rollout gate, pre-rollout hooks and the first step.
    /// A workload Canary (Flagger's shape) seen for the first time has nothing to release: the primary serves
    /// the target's revision, all traffic goes to it and the target is scaled to zero; a new revision releases.
    /// A suspended Canary (`spec.suspend`) starts nothing: it says so once, and starts once the spec is unsuspended.
    public mutating func start(now: RolloutInstant) -> RolloutOutcome {
        guard status.phase == .initialized else {
            return .rejected(.commandNotAllowed(.start, phase: status.phase))
        }
        if status.isBaseline { return .accepted([]) }
        if spec.suspend { return holdStart(now: now) }
        var actions: [RolloutAction] = []
        if let workload = spec.workload {
            // The target keeps its pods until the primary is ready to serve them all.
            status.stableRevision = workload.revision
            applyWeight(canary: 0, into: &actions)
            enter(.primaryRollout, now: now, into: &actions)
            return .accepted(actions)
        }
        beginRollout(now: now, announcement: "rollout started: canary \(spec.canary), stable \(status.servingStable)",
                     keepPaused: false, into: &actions)
        return .accepted(actions)
    }

    /// Time passed: fail a rollout past its progress deadline, and start the interval's checks when due.
    /// Safe to call as often as the caller likes; it does nothing until something is due.
    public mutating func tick(now: RolloutInstant) -> RolloutOutcome {
        var actions: [RolloutAction] = []
        switch status.phase {
        case .progressing:
            // A closed gate waits for its approval without a deadline, as Flagger's does: a person may take hours.
            if isPastDeadline(now), !isAtGate {
                let weight = "at canary weight \(status.canaryWeight)%"
                let last = status.holdReason.map { ": \($0)" } ?? ""
                rollBack(now: now, reason: "no progress within the \(Readable.duration(spec.analysis.progressDeadline)) progress deadline \(weight)\(last)",
                         into: &actions)
            } else if status.pending == nil, let due = status.nextCheckAt, now >= due {
                if !requestWebhooks(.rollback, into: &actions) {
                    runInterval(now: now, into: &actions)
                }
            }
        case .promoting where status.stage == .primaryRollout:
            if isPastDeadline(now), let workload = spec.workload {
                let last = status.holdReason.map { ": \($0)" } ?? ""
                failPromotion(workload, reason: "\(workload.primary) did not roll out the promoted revision within the \(Readable.duration(spec.analysis.progressDeadline)) progress deadline\(last)",
                              now: now, into: &actions)
            } else if status.pending == nil, let due = status.nextCheckAt, now >= due {
                enter(.primaryRollout, now: now, into: &actions)
            }
        case .promoting where status.stage == .promotionSteps:
            if let due = status.nextCheckAt, now >= due {
                stepPromotion(now: now, into: &actions)
            }
        case .initialized where status.stage == .primaryRollout:
            // The baseline waits for the primary without a deadline: nothing is released, the target still serves.
            if status.pending == nil, let due = status.nextCheckAt, now >= due {
                enter(.primaryRollout, now: now, into: &actions)
            }
        case .promoting, .rollingBack:
            if isPastDeadline(now) {
                record(.warning, "post-rollout hooks did not answer within the \(Readable.duration(spec.analysis.progressDeadline)) progress deadline",
                       now: now, into: &actions)
                finish(now: now, into: &actions)
            }
        case .initialized, .succeeded, .failed, .paused:
            break
        }
        return .accepted(actions)
    }

    /// A judge decided. Accepted at any moment while the canary takes traffic, not only after an `analyze`
    /// request: a judge may decide early. A pass advances (through the confirm gates), a fail counts
    /// towards the threshold — or, when conclusive, rolls back at once — and inconclusive holds (or, for a Canary
    /// written for Flagger, counts as a fail too, as Flagger counts "no values found"). While a gate
    /// decides, only a fail still counts. With the statistical judge a step lasts at least `minStepDuration`,
    /// and one still undecided after `maxStepDuration` rolls back. A paced step's pass holds it until its pause is
    /// over (both that and `minStepDuration` must be satisfied): see `StepPause`.
    public mutating func analysisCompleted(_ judgement: Judgement, now: RolloutInstant) -> RolloutOutcome {
        guard status.phase == .progressing else {
            return .rejected(.verdictNotExpected(phase: status.phase, stage: status.stage))
        }
        var actions: [RolloutAction] = []
        switch status.stage {
        case .analysis:
            // Whatever this interval was waiting for (rollback or rollout hooks, the analysis) is settled by the verdict.
            status.pending = nil
            // The step never served at its weights: every check of it sets them again, whatever it found (with the
            // canary at no traffic a check holds for want of requests, and would never pass); a pass waits for them.
            let resent = status.weightsRefused == true
            if resent {
                status.weightsRefused = nil
                actions.append(.setWeights(split))
            }
            let settings = spec.analysis.judge
            let stepTime = status.stepStartedAt.map { now - $0 } ?? .zero
            switch judgement.verdict {
            case .pass where settings.kind == .statistical && stepTime < settings.minStepDuration:
                status.iteration += 1
                let remaining = settings.minStepDuration - stepTime
                holdQuietly(reason: "shown no worse; the step lasts at least \(Readable.duration(settings.minStepDuration))",
                            checkAgainIn: min(remaining, spec.analysis.interval), now: now, into: &actions)
            case .pass:
                status.iteration += 1
                if resent {
                    // Sent again above: the step passes only once they hold.
                    hold(reason: "setting weights \(status.stableWeight)/\(status.canaryWeight) again: the router refused them",
                         message: "setting weights \(status.stableWeight)/\(status.canaryWeight) again before passing the step",
                         now: now, into: &actions)
                } else if let pause = pauseHolding(now: now) {
                    holdForPause(pause, now: now, into: &actions)
                } else {
                    status.holdReason = nil
                    endStep(now: now, into: &actions)
                }
            case .fail(let reason):
                // What the canary failed on is said, in the history, the release and its alerts: copies of requests
                // no client waited for, or live traffic.
                failCheck(isMirroring ? "\(reason) on mirrored copies" : reason, conclusive: judgement.isConclusive, now: now, into: &actions)
            case .inconclusive(let reason) where settings.kind == .statistical:
                status.iteration += 1
                if let longest = settings.maxStepDuration, stepTime >= longest {
                    rollBack(now: now, reason: "undecided after \(Readable.duration(stepTime)) at canary weight \(status.canaryWeight)%, the \(Readable.duration(longest)) maxStepDuration: \(reason)",
                             into: &actions)
                } else {
                    holdQuietly(reason: reason, checkAgainIn: spec.analysis.interval, now: now, into: &actions)
                }
            case .inconclusive(let reason) where spec.analysis.noValuesFail:
                failCheck(reason, now: now, into: &actions)
            case .inconclusive(let reason):
                status.iteration += 1
                hold(reason: reason, message: "hold: \(reason)", now: now, into: &actions)
            }
        case .confirmTrafficIncrease where status.pending?.kind == .analysis, .confirmPromotion where status.pending?.kind == .analysis:
            // The interval's checks while the gate stays closed: a pass asks the gate again, a fail counts towards the
            // threshold, and neither moves the weights.
            status.pending = nil
            switch judgement.verdict {
            case .pass:
                status.iteration += 1
                enter(status.stage, now: now, into: &actions)
            case .fail(let reason):
                failCheck(reason, conclusive: judgement.isConclusive, now: now, into: &actions)
            case .inconclusive(let reason) where spec.analysis.noValuesFail:
                failCheck(reason, now: now, into: &actions)
            case .inconclusive(let reason):
                status.iteration += 1
                hold(reason: reason, message: "hold: \(reason)", now: now, into: &actions)
            }
        case .confirmTrafficIncrease, .confirmPromotion:
            // A judge deciding early while the gate is asked: only a fail still counts.
            guard case .fail(let reason) = judgement.verdict else {
                return .rejected(.verdictNotExpected(phase: status.phase, stage: status.stage))
            }
            failCheck(reason, conclusive: judgement.isConclusive, now: now, into: &actions)
        case .notStarted, .confirmRollout, .preRollout, .primaryRollout, .promotionSteps, .postRollout, .finished:
            return .rejected(.verdictNotExpected(phase: status.phase, stage: status.stage))
        }
        return .accepted(actions)
    }

    /// The router could not set `failed` (the API refused, the VirtualService is gone, nothing serves the canary).
    /// While the steps are analysed at that split it is a failed check, and the step is not passed until the
    /// weights hold: its next check, whatever it finds, sets them again, and a pass then holds instead of advancing. So a rollout whose weights never reach
    /// the routes rolls back at the threshold; it never promotes a canary that took no traffic. A split since
    /// replaced, or one outside the analysis (a promotion, a rollback, a restore), is a warning in the history; a
    /// finished rollout's last word that waited for its last weights then says they were refused.
    public mutating func weightsFailed(_ failed: TrafficSplit, reason: String, now: RolloutInstant) -> RolloutOutcome {
        var actions: [RolloutAction] = []
        let message = "cannot set weights \(failed.stable.weight)/\(failed.canary.weight): \(reason)"
        guard isAnalysing, failed == split else {
            // A promotion's, a rollback's or a restore's weights: nothing to judge, but the status must not show
            // them as serving until the router applies them (`weightsApplied`).
            let refusedBefore = status.weightsRefused == true
            if failed == split { status.weightsRefused = true }
            record(.warning, message, now: now, into: &actions)
            // A promotion's last word stays owed after a refusal: the same refusal again says nothing new.
            if failed == split, status.lastWordAwaitsWeights == true, !refusedBefore { recordLastWord(now: now, into: &actions) }
            return .accepted(actions)
        }
        // One sending refused twice (a restart's first routing table withholds the step's split, then the restore
        // sends it and is refused too) is one failed check, not two in the same instant.
        if status.weightsRefused == true {
            record(.warning, message, now: now, into: &actions)
            return .accepted(actions)
        }
        status.weightsRefused = true
        failCheck(message, now: now, into: &actions)
        return .accepted(actions)
    }

    /// The router applied `applied`. Weights refused outside the analysis (`weightsFailed`) serve from now, and
    /// the status stops calling them refused; in the analysis a refused step is set again by its next check. A
    /// finished rollout's last word that waited for its last weights says now where all traffic is: on stable after
    /// a rollback, on the promoted version after a promotion (also one whose weights were refused before). In
    /// Flagger's shape a target whose scale-down waited for refused weights is scaled to zero now.
    public mutating func weightsApplied(_ applied: TrafficSplit, now: RolloutInstant) -> RolloutOutcome {
        guard applied == split else { return .accepted([]) }
        var actions: [RolloutAction] = []
        // Flagger's shape: the target's scale-down after a handover or a rollback waited for these weights (the
        // controller does not scale a Deployment to zero while the weights taking its traffic away are refused).
        if status.weightsRefused == true, applied.canary.weight == 0, let workload = spec.workload,
            status.stage == .postRollout || status.stage == .finished
        {
            actions.append(.scaleWorkload(scaling(workload, to: .zero)))
        }
        if status.lastWordAwaitsWeights == true {
            status.weightsRefused = nil
            recordLastWord(now: now, into: &actions)
        } else if awaitsRefusedWeights {
            status.weightsRefused = nil
            record(.normal, "weights \(applied.stable.weight)/\(applied.canary.weight) applied", now: now, into: &actions)
        }
        return .accepted(actions)
    }

    /// Weights the router refused outside the analysis wait to be applied (`weightsApplied`); in the analysis a
    /// refused step is set again by its next check instead.
    public var awaitsRefusedWeights: Bool {
        status.weightsRefused == true && !isAnalysing
    }

    /// Whether the router applying the current split tells this rollout anything (`weightsApplied`): weights it
    /// refused outside the analysis, or a finished rollout's last word, wait for it. Most splits step no rollout.
    public var awaitsAppliedWeights: Bool {
        awaitsRefusedWeights || status.lastWordAwaitsWeights == true
    }

    /// Finished, with its last weights applied: what serves is what the rollout left.
    public var isSettled: Bool { status.phase.isFinished && !awaitsAppliedWeights }

    /// Whether the interval's checks run: progressing, at the analysis stage (not a gate, hooks or promotion).
    var isAnalysing: Bool { status.phase == .progressing && status.stage == .analysis }

    /// Whether the rollout waits at a confirm gate (asking it, or judging the canary until it asks again).
    var isAtGate: Bool { [.confirmRollout, .confirmTrafficIncrease, .confirmPromotion].contains(status.stage) }

    /// A verdict with no per-check detail, never conclusive: what tests and simple judges report.
    public mutating func analysisCompleted(verdict: Verdict, now: RolloutInstant) -> RolloutOutcome {
        analysisCompleted(Judgement(verdict: verdict, checks: []), now: now)
    }

    /// The platform answered a `checkWorkload`: ready, the step is taken; not ready, the rollout holds until the
    /// next interval asks again (the progress deadline still counts), saying why — and which Deployment:
    /// `primaryNotReady` when the primary was the one, as Flagger halts a release whose primary is not ready.
    /// `stalled`: its rollout exceeded its own progress deadline, so waiting is futile and, as Flagger does, the
    /// release rolls back at once.
    public mutating func workloadChecked(
        ticket: RolloutTicket, ready: Bool, reason: String, primaryNotReady: Bool = false, stalled: Bool = false,
        now: RolloutInstant
    ) -> RolloutOutcome {
        guard status.phase == .progressing, let pending = status.pending, pending.ticket == ticket,
            case .workload(let step) = pending.kind
        else {
            return .rejected(.staleResult(ticket))
        }
        status.pending = nil
        var actions: [RolloutAction] = []
        if ready {
            setStep(step, now: now, checked: true, into: &actions)
        } else {
            let deployment = primaryNotReady ? "primary Deployment \(spec.workload?.primary ?? "")" : "canary Deployment \(spec.canaryDeployment ?? "")"
            let why = "\(deployment) is not ready: \(reason)"
            if stalled {
                rollBack(now: now, reason: why, into: &actions)
            } else {
                hold(reason: why, message: "waiting for \(deployment): \(reason)", now: now, into: &actions)
            }
        }
        return .accepted(actions)
    }

    /// How soon a primary that is not ready yet is asked again: a rollout of pods takes seconds to minutes, and
    /// nothing is judged meanwhile, so waiting a whole analysis interval (an hour, for some) would only delay.
    static func primaryPoll(_ interval: Duration) -> Duration { min(interval, .seconds(10)) }

    /// The platform answered a `promoteWorkload`: once the primary has rolled out the canary's template, all
    /// traffic goes to it, the target is scaled to zero and the release is promoted; until then the rollout
    /// holds at its weights and asks again each interval (the progress deadline still counts). A primary whose
    /// rollout `stalled` (past its own progress deadline) fails the promotion at once (`failPromotion`). At first
    /// sight (the baseline) the target is scaled to zero once the primary is ready.
    public mutating func primaryUpdated(
        ticket: RolloutTicket, ready: Bool, reason: String, stalled: Bool = false, now: RolloutInstant
    ) -> RolloutOutcome {
        guard status.phase == .promoting || status.phase == .initialized, let pending = status.pending, pending.ticket == ticket,
            pending.kind == .primaryRollout, let workload = spec.workload
        else {
            return .rejected(.staleResult(ticket))
        }
        status.pending = nil
        var actions: [RolloutAction] = []
        if status.phase == .initialized {
            guard ready else {
                hold(reason: "\(workload.primary) is not ready yet: \(reason)",
                     message: "waiting for \(workload.primary) to be ready before scaling \(workload.deployment) to zero: \(reason)",
                     checkAgainIn: Self.primaryPoll(spec.analysis.interval), now: now, into: &actions)
                return .accepted(actions)
            }
            status.stage = .finished
            status.holdReason = nil
            status.nextCheckAt = nil
            actions.append(.scaleWorkload(scaling(workload, to: .zero)))
            record(.normal, "initialized: \(workload.primary) serves \(workload.deployment) revision \(workload.revision ?? "unknown")",
                   alert: .info, now: now, into: &actions)
            return .accepted(actions)
        }
        if !ready, stalled {
            failPromotion(workload, reason: "\(workload.primary) is not ready: \(reason)", now: now, into: &actions)
            return .accepted(actions)
        }
        guard ready else {
            hold(reason: "\(workload.primary) is rolling out the promoted revision: \(reason)",
                 message: "waiting for \(workload.primary): \(reason)", checkAgainIn: Self.primaryPoll(spec.analysis.interval),
                 now: now, into: &actions)
            return .accepted(actions)
        }
        if let step = spec.analysis.stepWeightPromotion, status.canaryWeight > step {
            record(.normal, "\(workload.primary) serves revision \(workload.revision ?? "unknown"); traffic moves back to it \(step)% per \(Readable.duration(spec.analysis.interval))",
                   now: now, into: &actions)
            enter(.promotionSteps, now: now, into: &actions)
        } else {
            completePrimaryPromotion(workload, now: now, into: &actions)
        }
        return .accepted(actions)
    }

    /// The webhooks of a `runWebhooks` action answered; `ticket` is that action's `WebhookRun.ticket`. `alertMuted`: the
    /// hook whose failure is the result has Flagger's `muteAlert`, so a gate it keeps closed holds without an alert.
    public mutating func webhookCompleted(
        ticket: RolloutTicket, result: WebhookResult, alertMuted: Bool = false, now: RolloutInstant
    ) -> RolloutOutcome {
        guard let pending = status.pending, pending.ticket == ticket, case .webhooks(let type) = pending.kind else {
            return .rejected(.staleResult(ticket))
        }
        status.pending = nil
        var actions: [RolloutAction] = []
        switch (type, result) {
        case (.rollback, .passed):
            rollBack(now: now, reason: "a rollback webhook asked for it", into: &actions)
        case (.rollback, .failed):
            runInterval(now: now, into: &actions)
        case (.confirmRollout, .passed):
            markProgress(now: now)
            enter(.preRollout, now: now, into: &actions)
        case (.preRollout, .passed):
            startSteps(now: now, into: &actions)
        case (.preRollout, .failed(let reason)):
            failCheck("pre-rollout hook failed: \(reason)", now: now, into: &actions)
        case (.rollout, .passed):
            requestAnalysis(now: now, into: &actions)
        case (.rollout, .failed(let reason)):
            failCheck("rollout hook failed: \(reason)", now: now, into: &actions)
        case (.confirmTrafficIncrease, .passed):
            setStep((status.stepIndex ?? -1) + 1, now: now, into: &actions)
        case (.confirmPromotion, .passed):
            promote(now: now, announcement: "promotion confirmed, promoting canary \(status.canary) to 100%", into: &actions)
        case (.confirmRollout, .failed(let reason)), (.confirmTrafficIncrease, .failed(let reason)),
             (.confirmPromotion, .failed(let reason)):
            // As Flagger: one Warning when the wait begins (or the gate's answer changes), not one per interval.
            let closed = "\(type) gate closed: \(reason)"
            let waitBegins = status.holdReason != closed
            hold(
                reason: closed, message: waitBegins ? "waiting for \(type) approval: \(reason)" : nil, severity: .warning,
                alert: .warn, alerting: !alertMuted, now: now, into: &actions)
        case (.postRollout, .passed):
            finish(now: now, into: &actions)
        case (.postRollout, .failed(let reason)):
            record(.warning, "post-rollout hook failed: \(reason)", now: now, into: &actions)
            finish(now: now, into: &actions)
        case (.event, _):
            // Event webhooks are notified, never awaited, so no ticket can name them.
            break
        }
        return .accepted(actions)
    }

    /// The Canary spec changed. A new revision (another canary, target or weight schedule) restarts a live
    /// rollout at the first step with the new canary, against what serves now — staying paused if it was;
    /// other changes (thresholds, metrics, hooks, interval, the A/B match) are adopted in place. A finished or
    /// not-yet-started rollout only adopts the spec; `restart` rolls it out. A spec in conflict with what serves
    /// (`conflict(with:)`) is refused whole. While the spec is suspended (`spec.suspend`) it is adopted without a step:
    /// a live rollout holds, a new release waits; unsuspended, the held rollout resumes and the held release starts
    /// (see `Rollout+Suspension`).
    public mutating func specChanged(_ newSpec: CanarySpec, now: RolloutInstant) -> RolloutOutcome {
        do {
            try newSpec.validate()
        } catch {
            return .rejected(.invalidSpec(error))
        }
        if let conflict = conflict(with: newSpec) { return .rejected(.releaseConflict(conflict)) }
        guard newSpec != spec else { return .accepted([]) }
        if newSpec.suspend { return .accepted(adoptSuspended(newSpec, now: now)) }
        let lifting = spec.suspend
        let oldSpec = spec
        let oldSplit = split
        spec = newSpec
        if newSpec.workload != nil { status.followPorts(of: newSpec) }
        var actions: [RolloutAction] = []
        switch status.phase {
        case .initialized:
            status.canary = newSpec.canary
            if lifting { liftSuspension(now: now, into: &actions) }
        case .succeeded, .failed:
            // The step it ended at is one of the old schedule's: with another schedule, none of the new one's ran.
            if oldSpec.analysis.schedule != newSpec.analysis.schedule { status.stepIndex = nil }
            if lifting { liftSuspension(now: now, into: &actions) }
        case .progressing, .promoting, .rollingBack, .paused:
            let held = lifting && status.releaseHeld == true
            if oldSpec.isNewRevision(comparedTo: newSpec) || held {
                let change = held ? "spec.suspend is false: canary \(newSpec.canary), held back meanwhile"
                    : oldSpec.canary != newSpec.canary ? "canary changed to \(newSpec.canary)" : "spec changed"
                // A person's pause stays; the suspension's hold ends with it.
                let keepPaused = status.phase == .paused && !(lifting && status.suspended == true)
                beginRollout(now: now, announcement: "\(change), releasing it against \(status.servingStable) from the first step",
                             keepPaused: keepPaused, into: &actions)
            } else {
                // A new A/B match or stickiness changes the routes now, not at the next step; so does one that came
                // while suspended, once unsuspended.
                if split != oldSplit || (lifting && status.routesHeld == true) { actions.append(.setWeights(split)) }
                if lifting { status.routesHeld = nil }
                // A new interval or progress deadline counts from now: a shorter interval brings the next check within
                // it, and a shorter deadline does not end a rollout that had no interval to make progress under it.
                let old = oldSpec.analysis, new = newSpec.analysis
                if old.interval != new.interval || old.progressDeadline != new.progressDeadline {
                    if let next = status.nextCheckAt, next > now + new.interval { status.nextCheckAt = now + new.interval }
                    if status.lastProgressAt != nil { status.lastProgressAt = now }
                }
                // A new synthetic load (or none) applies from now, as the settings do.
                if status.phase == .progressing, old.load != new.load || old.interval != new.interval {
                    if newSpec.analysis.load == nil { actions.append(.stopLoad(spec.name)) } else { sendLoad(into: &actions) }
                }
                // Flagger's shape: a new service.port is the same release served on another port, said as such.
                let oldPort = oldSpec.workload?.port, newPort = newSpec.workload?.port
                var unchanged = newSpec
                unchanged.workload?.port = oldPort ?? 0
                unchanged.stable?.port = oldSpec.stable?.port
                unchanged.canary.port = oldSpec.canary.port
                unchanged.suspend = oldSpec.suspend
                var settings = newSpec
                settings.suspend = oldSpec.suspend
                if let oldPort, let newPort, oldPort != newPort, unchanged == oldSpec {
                    record(.normal, "service port changed from \(oldPort) to \(newPort): the routes follow it, the release goes on",
                           describesWeights: true, now: now, into: &actions)
                } else if settings != oldSpec {
                    record(.normal, "analysis settings updated", now: now, into: &actions)
                }
                if lifting { liftSuspension(now: now, into: &actions) }
            }
        }
        return .accepted(actions)
    }

    /// A controller restored this rollout from its store after a restart: re-apply the current weights
    /// (the router may have been mid-update), send the synthetic load again while the canary is analysed, and
    /// re-issue, with a new ticket, the request that was in flight — except an analysis check, which waits a whole
    /// interval (see `checkAfterRestart`).
    public mutating func restored(now: RolloutInstant) -> RolloutOutcome {
        guard ownsRoutes else { return .accepted([]) }
        var actions: [RolloutAction] = []
        if !status.phase.isFinished {
            // In the history, so a gap in its steps reads as the restart it was; not a point of the release's life
            // that webhooks or alerts hear of, nor the status's message.
            let shown = CanaryStatus(rollout: self, measurements: [])
            actions.append(
                .record(
                    RolloutEvent(
                        instant: now, severity: .normal,
                        message: "\(spec.name.name): resumed after a restart: \(shown.phaseLabel) at \(shown.stepLabel), weights \(shown.weightsLabel)"
                    )
                )
            )
        }
        let refused = status.weightsRefused
        applyWeight(canary: status.canaryWeight, into: &actions)
        // Put back with the settings as they are: none is held from the routes any longer.
        status.routesHeld = nil
        // Put back, not a check's new try: a refusal the step already counted stays the one failed check it was.
        if isAnalysing { status.weightsRefused = refused }
        if status.phase == .progressing { sendLoad(into: &actions) }
        if let pending = status.pending {
            status.pending = nil
            if pending.kind == .primaryRollout {
                // The primary was being asked (baseline or promotion): ask again.
                enter(.primaryRollout, now: now, into: &actions)
                return .accepted(actions)
            }
            if pending.kind == .webhooks(.rollback) && requestWebhooks(.rollback, into: &actions) {
                return .accepted(actions)
            }
            if isAnalysing { checkAfterRestart(now: now) } else { runInterval(now: now, into: &actions) }
        } else if isAnalysing {
            checkAfterRestart(now: now)
        }
        return .accepted(actions)
    }

    /// The first check after a restart comes a whole interval after it. The traffic it reads must be seen since:
    /// the gateway's counters start again at zero, so a check at once judged a second of requests and held for
    /// too few. The progress deadline, if it would end before that check, is moved to an interval after it.
    private mutating func checkAfterRestart(now: RolloutInstant) {
        let check = max(status.nextCheckAt ?? now, now + spec.analysis.interval)
        status.nextCheckAt = check
        if let last = status.lastProgressAt, last + spec.analysis.progressDeadline <= check {
            status.lastProgressAt = check + (spec.analysis.interval - spec.analysis.progressDeadline)
        }
    }
}
