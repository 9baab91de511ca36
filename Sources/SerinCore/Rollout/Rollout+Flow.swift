// The moves the public events are made of. Each appends the actions it implies, in the order the caller
// must run them, and leaves `status` describing exactly where the rollout now waits.
extension Rollout {
    /// Begin a release of the spec's canary against what serves now, at the first step with weights 100/0, then
    /// enter the confirm-rollout gate — or, when `keepPaused`, stay paused there until `resume`. After a
    /// promotion the promoted canary is the stable, and the version it replaced leaves the routes in the same
    /// weight change; a release still in flight is superseded.
    mutating func beginRollout(now: RolloutInstant, announcement: String, keepPaused: Bool, into actions: inout [RolloutAction]) {
        if status.isPromoted && !status.canary.isSameVersion(as: status.stable) {
            status.retiredStable = status.stable
            status.stable = status.canary
        }
        // The same canary again (the Canary's settings changed, or `serin rollout`) is no replacement.
        let sameCanary = status.canary == spec.canary && status.releases.last?.canaryRevision == spec.workload?.revision
        endRelease(.superseded, reason: sameCanary
            ? "started again from the first step, with the same canary"
            : "replaced by canary \(spec.workload?.revision.map { "revision \($0)" } ?? spec.canary.description)", now: now)
        status.canary = spec.canary
        var releases = status.releases
        releases.append(Release(
            stable: status.stable, canary: status.canary, startedAt: now,
            stableRevision: spec.workload == nil ? nil : status.stableRevision, canaryRevision: spec.workload?.revision))
        status.releaseLog = Array(releases.suffix(Release.kept))
        status.stepIndex = nil
        status.failedChecks = 0
        status.iteration = 0
        status.pending = nil
        status.nextCheckAt = nil
        status.holdReason = nil
        status.lastWordAwaitsWeights = nil
        status.suspended = nil
        status.releaseHeld = nil
        status.routesHeld = nil
        status.lastProgressAt = now
        status.stage = .confirmRollout
        if keepPaused {
            status.pausedFrom = .progressing
        } else {
            status.pausedFrom = nil
            transition(to: .progressing, now: now, into: &actions)
        }
        // Said before the weights are sent (with them in its status and alerts): that it started is so whatever the
        // router makes of them.
        var weights: [RolloutAction] = []
        applyWeight(canary: 0, into: &weights)
        record(.normal, announcement, alert: .info, now: now, into: &actions)
        actions += weights
        if let workload = spec.workload { actions.append(.scaleWorkload(scaling(workload, to: .likePrimary))) }
        if !keepPaused {
            enter(.confirmRollout, now: now, into: &actions)
        }
    }

    /// Ends the release in flight, if one is, with `outcome`; `overriding` also ends one that already ended so
    /// (a rollback after promotion, by `abort` while the post-rollout hooks run, takes the promotion back).
    mutating func endRelease(
        _ outcome: Release.Outcome, reason: String?, now: RolloutInstant, overriding ended: Release.Outcome? = nil
    ) {
        guard var releases = status.releaseLog, var last = releases.last,
            last.outcome == .progressing || last.outcome == ended
        else { return }
        last.outcome = outcome
        last.reason = reason
        last.endedAt = now
        releases[releases.count - 1] = last
        status.releaseLog = releases
    }

    /// Move to `stage` and ask for whatever it waits on; a gate or hook stage with no webhooks configured
    /// passes straight through.
    mutating func enter(_ stage: RolloutStage, now: RolloutInstant, into actions: inout [RolloutAction]) {
        status.stage = stage
        switch stage {
        case .notStarted, .finished:
            break
        case .primaryRollout:
            guard let workload = spec.workload else { break }
            let ticket = issueTicket(for: .primaryRollout)
            let names = workloadNames(workload)
            actions.append(.promoteWorkload(WorkloadPromotion(
                ticket: ticket, target: names.target, primary: names.primary,
                purpose: status.phase == .initialized ? .baseline : .promotion, primaryAutoscaler: names.primaryAutoscaler,
                revision: workload.revision, readyThreshold: spec.analysis.primaryReadyThreshold)))
        case .confirmRollout:
            if !requestWebhooks(.confirmRollout, into: &actions) {
                enter(.preRollout, now: now, into: &actions)
            }
        case .preRollout:
            if spec.skipAnalysis {
                promote(now: now, announcement: "analysis skipped, promoting canary \(status.canary) to 100%", into: &actions)
            } else if !requestWebhooks(.preRollout, into: &actions) {
                startSteps(now: now, into: &actions)
            }
        case .analysis:
            status.nextCheckAt = now + spec.analysis.interval
            sendLoad(into: &actions)
        case .confirmTrafficIncrease:
            if !requestWebhooks(.confirmTrafficIncrease, into: &actions) {
                setStep((status.stepIndex ?? -1) + 1, now: now, into: &actions)
            }
        case .confirmPromotion:
            if !requestWebhooks(.confirmPromotion, into: &actions) {
                let passed = spec.analysis.schedule.isBlueGreen ? "all \(spec.analysis.schedule.steps) iterations" : "all steps"
                promote(now: now, announcement: "\(passed) passed, promoting canary \(status.canary) to 100%", into: &actions)
            }
        case .promotionSteps:
            stepPromotion(now: now, into: &actions)
        case .postRollout:
            if !requestWebhooks(.postRollout, into: &actions) {
                finish(now: now, into: &actions)
            }
        }
    }

    /// The interval's work for the current stage: rollout hooks then analysis, or ask the waiting gate again. A
    /// closed confirm-traffic-increase or confirm-promotion gate with the canary taking traffic is judged first, as
    /// Flagger goes on running a waiting release's rollout hooks and metrics: a canary that starts failing while a
    /// person has not yet approved is rolled back at the threshold, not promoted on the approval.
    mutating func runInterval(now: RolloutInstant, into actions: inout [RolloutAction]) {
        switch status.stage {
        case .analysis, .confirmTrafficIncrease where status.canaryWeight > 0, .confirmPromotion where status.canaryWeight > 0:
            if !requestWebhooks(.rollout, into: &actions) {
                requestAnalysis(now: now, into: &actions)
            }
        case .confirmRollout, .preRollout, .confirmTrafficIncrease, .confirmPromotion, .primaryRollout, .promotionSteps, .postRollout:
            enter(status.stage, now: now, into: &actions)
        case .notStarted, .finished:
            break
        }
    }

    /// The pre-rollout hooks passed: on to the first step, through the confirm-traffic-increase gate when that step
    /// gives the canary live traffic, as Flagger asks the gate before every increase, the first from 0 included. A
    /// blue/green iteration, or a first step that only mirrors to the canary, raises no weight and passes no gate.
    mutating func startSteps(now: RolloutInstant, into actions: inout [RolloutAction]) {
        if (spec.analysis.schedule.weight(atStep: 0) ?? 0) > 0 && !spec.analysis.schedule.mirrorsFirst {
            enter(.confirmTrafficIncrease, now: now, into: &actions)
        } else {
            setStep(0, now: now, into: &actions)
        }
    }

    /// Set the canary to step `index`'s weight and analyse it for a full interval; past the last step, promote.
    /// In blue/green each step is an iteration at weight 0.
    /// With a canary Deployment named, its readiness (and a primary's) is asked first (`checked` once it answered yes).
    mutating func setStep(_ index: Int, now: RolloutInstant, checked: Bool = false, into actions: inout [RolloutAction]) {
        guard let weight = spec.analysis.schedule.weight(atStep: index) else {
            enter(.confirmPromotion, now: now, into: &actions)
            return
        }
        if let deployment = spec.canaryDeployment, !checked {
            let ticket = issueTicket(for: .workload(step: index))
            actions.append(.checkWorkload(WorkloadCheck(
                ticket: ticket, deployment: ResourceName(namespace: spec.name.namespace, name: deployment),
                readyThreshold: spec.analysis.canaryReadyThreshold,
                primary: spec.workload.map { ResourceName(namespace: spec.name.namespace, name: $0.primary) },
                primaryReadyThreshold: spec.analysis.primaryReadyThreshold)))
            return
        }
        let before = split
        status.stepIndex = index
        status.stepStartedAt = now
        let schedule = spec.analysis.schedule
        // Blue/green's routes stay 100/0 from the start: an iteration changes no weight. A/B testing's first
        // iteration adds the route sending matching requests to the canary, mirroring's the copy to it.
        status.canaryWeight = weight
        // A refusal belongs to the weights it refused: a new step starts with none.
        status.weightsRefused = nil
        if !schedule.isBlueGreen || split != before { actions.append(.setWeights(split)) }
        markProgress(now: now)
        let news = if let mirror = spec.analysis.mirror, weight == 0 {
            "\(schedule.stepNoun) \(schedule.label(atStep: index)): canary \(status.canary) takes no live traffic, a copy of \(Readable.trimmed(mirror.value))% of requests is mirrored to it"
        } else if spec.analysis.isABTesting {
            "iteration \(schedule.label(atStep: index)): requests matching \(abSummary) reach canary \(status.canary), all others stable"
        } else if schedule.isBlueGreen {
            "iteration \(schedule.label(atStep: index)): canary \(status.canary) takes no live traffic, only "
                + (spec.analysis.load == nil ? "the webhooks' tests" : "analysis.load's requests and the webhooks' tests")
        } else {
            "advance canary weight to \(weight)%"
        }
        record(.normal, news, describesWeights: true, now: now, into: &actions)
        enter(.analysis, now: now, into: &actions)
    }

    /// The A/B match as people read it: each match's summary, joined by `or`.
    var abSummary: String { spec.analysis.match.map(\.summary).joined(separator: " or ") }

    /// All traffic to the canary, which takes the stable role; in Flagger's shape, the canary's template is
    /// copied to the primary first and traffic moves back to the primary once it has rolled it out.
    mutating func promote(now: RolloutInstant, announcement: String, into actions: inout [RolloutAction]) {
        status.pausedFrom = nil
        status.pending = nil
        status.nextCheckAt = nil
        transition(to: .promoting, now: now, into: &actions)
        if let workload = spec.workload {
            markProgress(now: now)
            record(.normal, "\(announcement): copying \(workload.deployment) revision \(workload.revision ?? "unknown") to \(workload.primary)",
                   now: now, into: &actions)
            enter(.primaryRollout, now: now, into: &actions)
            return
        }
        markProgress(now: now)
        if let step = spec.analysis.stepWeightPromotion, status.canaryWeight + step < 100 {
            record(.normal, "\(announcement), \(step)% per \(Readable.duration(spec.analysis.interval))", now: now, into: &actions)
            enter(.promotionSteps, now: now, into: &actions)
            return
        }
        applyWeight(canary: 100, into: &actions)
        endRelease(.promoted, reason: nil, now: now)
        record(.normal, announcement, describesWeights: true, now: now, into: &actions)
        enter(.postRollout, now: now, into: &actions)
    }

    /// One step of a gradual promotion (`stepWeightPromotion`), one per interval: the canary's weight rises by
    /// the step (in Flagger's shape, where the primary already serves the promoted revision, the canary's falls
    /// and the primary's rises); the last step completes the promotion.
    /// `by` overrides the step (`serin promote` takes the rest at once).
    mutating func stepPromotion(now: RolloutInstant, by override: Int? = nil, into actions: inout [RolloutAction]) {
        let step = override ?? spec.analysis.stepWeightPromotion ?? 100
        markProgress(now: now)
        if let workload = spec.workload {
            let canary = max(0, status.canaryWeight - step)
            guard canary > 0 else {
                completePrimaryPromotion(workload, now: now, into: &actions)
                return
            }
            applyWeight(canary: canary, into: &actions)
            record(.normal, "promotion: \(workload.primary) weight \(100 - canary)%", describesWeights: true, now: now, into: &actions)
        } else {
            let canary = min(100, status.canaryWeight + step)
            applyWeight(canary: canary, into: &actions)
            record(.normal, "promotion: canary weight \(canary)%", describesWeights: true, now: now, into: &actions)
            guard canary < 100 else {
                // That all traffic is on the canary is the promotion's last word (`finish`), said once the router applied it.
                endRelease(.promoted, reason: nil, now: now)
                enter(.postRollout, now: now, into: &actions)
                return
            }
        }
        status.nextCheckAt = now + spec.analysis.interval
    }

    /// Flagger's shape, once the primary serves the promoted revision and takes all traffic back: the release is
    /// promoted and the target scaled to zero.
    mutating func completePrimaryPromotion(_ workload: CanaryWorkload, now: RolloutInstant, into actions: inout [RolloutAction]) {
        applyWeight(canary: 0, into: &actions)
        status.stableRevision = workload.revision
        endRelease(.promoted, reason: nil, now: now)
        actions.append(.scaleWorkload(scaling(workload, to: .zero)))
        markProgress(now: now)
        // What is asked, not yet done: that all traffic is on the primary is the promotion's last word (`finish`).
        record(.normal, "\(workload.primary) serves revision \(workload.revision ?? "unknown"): routing all traffic to it, scaling \(workload.deployment) to zero",
               describesWeights: true, now: now, into: &actions)
        enter(.postRollout, now: now, into: &actions)
    }

    mutating func rollBack(now: RolloutInstant, reason: String, into actions: inout [RolloutAction]) {
        let scaleDown = spec.workload.map { [RolloutAction.scaleWorkload(scaling($0, to: .zero))] } ?? []
        endUnsuccessfully(.rolledBack, reason: reason, overriding: .promoted, canaryWeight: 0, saying: "rolled back: \(reason)",
                          then: scaleDown, now: now, into: &actions)
    }

    /// Flagger's shape, when the primary cannot roll out the promoted revision: the canary, which passed its analysis,
    /// is the one copy known to serve it, so all traffic goes to the canary and the release fails there, rather than
    /// returning to a primary that is not ready (what a rollback would do). The target keeps its pods; a person fixes
    /// the primary, and the next revision starts a release as after any failure.
    mutating func failPromotion(_ workload: CanaryWorkload, reason: String, now: RolloutInstant, into actions: inout [RolloutAction]) {
        endUnsuccessfully(.promotionFailed, reason: reason, canaryWeight: 100,
                          saying: "promotion failed: \(reason); routing all traffic to \(workload.deployment)\(Self.servesRevision(workload))",
                          then: [], now: now, into: &actions)
    }

    /// Ends the release with `outcome` (`overriding` one it already ended with) and `canaryWeight` of the traffic on
    /// the canary, then runs the post-rollout hooks (phase RollingBack until they answer). The decision and its reason
    /// are said first, an `error` alert, before the weights are sent (with them in its status and alerts): only what
    /// follows them (`then`) waits for the router to take them.
    private mutating func endUnsuccessfully(
        _ outcome: Release.Outcome, reason: String, overriding ended: Release.Outcome? = nil, canaryWeight: Int, saying message: String,
        then following: [RolloutAction], now: RolloutInstant, into actions: inout [RolloutAction]
    ) {
        status.pausedFrom = nil
        status.suspended = nil
        status.pending = nil
        status.nextCheckAt = nil
        transition(to: .rollingBack, now: now, into: &actions)
        endRelease(outcome, reason: reason, now: now, overriding: ended)
        markProgress(now: now)
        var weights: [RolloutAction] = []
        applyWeight(canary: canaryWeight, into: &weights)
        record(.warning, message, alert: .error, now: now, into: &actions)
        actions += weights + following
        enter(.postRollout, now: now, into: &actions)
    }

    /// `, which serves revision R`: what a workload's Deployment runs, for the messages that say where traffic went.
    static func servesRevision(_ workload: CanaryWorkload) -> String {
        ", which serves revision \(workload.revision ?? "unknown")"
    }

    /// Promoting ends in Succeeded, rolling back in Failed. The last word says where the traffic is, and for a failed
    /// rollout why it rolled back (the failed check, an abort), since it is the message `serin status` keeps showing.
    mutating func finish(now: RolloutInstant, into actions: inout [RolloutAction]) {
        let final: RolloutPhase = status.phase == .promoting ? .succeeded : .failed
        status.stage = .finished
        status.pending = nil
        status.nextCheckAt = nil
        status.holdReason = nil
        transition(to: final, now: now, into: &actions)
        if actions.contains(.setWeights(split)) {
            // The last weights go out in this very step: where the traffic is is said once the router answers
            // (`weightsApplied`, `weightsFailed`), since the history is saved before it does.
            status.lastWordAwaitsWeights = true
        } else {
            recordLastWord(now: now, into: &actions)
        }
        actions.append(.finished(final))
    }

    /// The last word of a finished rollout: where the traffic is, and why a failed one rolled back. Weights the router
    /// refused (`weightsFailed`) are not said to serve: the routes still carry the ones before. A failed rollout says
    /// its last word once; a promotion is not completed until its weights serve, so a refusal leaves its last word owed.
    mutating func recordLastWord(now: RolloutInstant, into actions: inout [RolloutAction]) {
        let refused = status.weightsRefused == true
        status.lastWordAwaitsWeights = nil
        guard status.phase == .succeeded else {
            let last = status.releaseLog?.last
            if let last, last.outcome == .promotionFailed, let workload = spec.workload {
                let traffic = allTraffic(on: workload.deployment, refused: refused)
                record(.warning, "promotion failed: \(last.reason ?? "the primary is not ready"); \(traffic)\(Self.servesRevision(workload))",
                       now: now, into: &actions)
                return
            }
            let reason = last.flatMap { $0.outcome == .rolledBack ? $0.reason : nil }
            let traffic = allTraffic(on: "stable \(status.stable)", refused: refused)
            record(.warning, "rollout failed" + (reason.map { ": \($0);" } ?? ",") + " " + traffic, now: now, into: &actions)
            return
        }
        // Flagger's shape hands the promoted revision to the primary, which takes all traffic back; otherwise the
        // canary takes it all.
        let promoted = spec.workload?.primary ?? "canary \(status.canary)"
        if refused {
            status.lastWordAwaitsWeights = true
            record(.warning, "promotion not completed: \(allTraffic(on: promoted, refused: true))", alert: .warn, now: now, into: &actions)
        } else {
            let revision = spec.workload.map(Self.servesRevision) ?? ""
            record(.normal, "promotion completed: \(allTraffic(on: promoted, refused: false))\(revision)", alert: .info, now: now, into: &actions)
        }
    }

    /// Where all traffic is, for a last word: on `place`, unless the router refused the weights that send it there.
    func allTraffic(on place: String, refused: Bool) -> String {
        guard refused else { return "all traffic on \(place)" }
        return "the router refused weights \(status.stableWeight)/\(status.canaryWeight), so not all traffic is on \(place) yet"
    }

    /// One failed check; reaching the threshold rolls back. Passes in between do not reset the count (Flagger's
    /// behaviour): a canary failing every other interval still rolls back. A conclusive one (a judge showed the
    /// canary worse at its confidence) rolls back at once, its reason standing without a tally.
    mutating func failCheck(_ reason: String, conclusive: Bool = false, now: RolloutInstant, into actions: inout [RolloutAction]) {
        status.iteration += 1
        status.failedChecks += 1
        if conclusive {
            rollBack(now: now, reason: reason, into: &actions)
            return
        }
        let tally = "(\(status.failedChecks)/\(spec.analysis.threshold) failed checks)"
        if status.failedChecks >= spec.analysis.threshold {
            rollBack(now: now, reason: "\(reason) \(tally)", into: &actions)
        } else {
            hold(reason: reason, message: "halt: \(reason) \(tally)", severity: .warning, now: now, into: &actions)
        }
    }

    /// Stay at this step while the evidence gathers: the reason is kept in the status, but only the first wait of
    /// a step is an event, so a statistical judge looking every few seconds does not flood the history.
    mutating func holdQuietly(reason: String, checkAgainIn: Duration, now: RolloutInstant, into actions: inout [RolloutAction]) {
        let first = status.holdReason == nil
        status.holdReason = reason
        status.nextCheckAt = now + checkAgainIn
        if first { record(.normal, "waiting for evidence: \(reason)", now: now, into: &actions) }
    }

    /// Stay at this step until the next interval, saying why (with `alert`, also to the alerts, unless `alerting` is
    /// false: a muted hook's gate).
    mutating func hold(
        reason: String, message: String?, severity: RolloutEvent.Severity = .normal, checkAgainIn: Duration? = nil,
        alert: AlertSeverity? = nil, alerting: Bool = true, now: RolloutInstant, into actions: inout [RolloutAction]
    ) {
        status.holdReason = reason
        status.nextCheckAt = now + (checkAgainIn ?? spec.analysis.interval)
        if let message { record(severity, message, alert: alert, sendingAlerts: alerting, now: now, into: &actions) }
    }

    /// Scaling the workload target, in Flagger's shape.
    func scaling(_ workload: CanaryWorkload, to size: WorkloadScaling.Size) -> WorkloadScaling {
        let names = workloadNames(workload)
        return WorkloadScaling(target: names.target, primary: names.primary, size: size, primaryAutoscaler: names.primaryAutoscaler)
    }

    /// The target, the primary and the primary's autoscaler, in the Canary's namespace.
    func workloadNames(_ workload: CanaryWorkload) -> (target: ResourceName, primary: ResourceName, primaryAutoscaler: ResourceName?) {
        let namespace = spec.name.namespace
        return (
            ResourceName(namespace: namespace, name: workload.deployment), ResourceName(namespace: namespace, name: workload.primary),
            workload.primaryAutoscaler.map { ResourceName(namespace: namespace, name: $0) }
        )
    }

    /// Ask for the webhooks of `type`; false (and nothing asked) when the spec has none.
    mutating func requestWebhooks(_ type: WebhookType, into actions: inout [RolloutAction]) -> Bool {
        let hooks = spec.analysis.webhooks(ofType: type)
        guard !hooks.isEmpty else { return false }
        let ticket = issueTicket(for: .webhooks(type))
        actions.append(.runWebhooks(WebhookRun(ticket: ticket, type: type, calls: hooks.map { call($0) })))
        return true
    }

    /// Ask for this interval's analysis. The statistical judge reads each traffic check over the whole step so
    /// far, whose counts only grow, so every look weighs all the evidence the step has gathered.
    mutating func requestAnalysis(now: RolloutInstant, into actions: inout [RolloutAction]) {
        let ticket = issueTicket(for: .analysis)
        var metrics = spec.analysis.metrics
        if spec.analysis.judge.kind == .statistical, let start = status.stepStartedAt {
            let step = max(now - start, .seconds(1))
            let window = Duration.seconds(step.components.seconds)
            for index in metrics.indices where !metrics[index].isCustom { metrics[index].interval = window }
        }
        actions.append(.analyze(AnalysisRequest(
            ticket: ticket, canaryName: spec.name, canary: status.canary, stable: status.stable,
            canaryWeight: status.canaryWeight, metrics: metrics, canaryWorkload: spec.canaryDeployment,
            judge: spec.analysis.judge, canaryMirrored: isMirroring, apexService: spec.workload?.apexService)))
    }

    mutating func issueTicket(for kind: RolloutStatus.Pending.Kind) -> RolloutTicket {
        status.lastTicket += 1
        let ticket = RolloutTicket(status.lastTicket)
        status.pending = RolloutStatus.Pending(ticket: ticket, kind: kind)
        status.nextCheckAt = nil
        return ticket
    }

    mutating func applyWeight(canary weight: Int, into actions: inout [RolloutAction]) {
        status.canaryWeight = weight
        status.weightsRefused = nil
        actions.append(.setWeights(split))
    }

    /// Changes phase. Synthetic load runs exactly while the rollout progresses: it stops when the rollout leaves
    /// `progressing` (promotion, rollback, pause) and starts again when a paused analysis resumes.
    mutating func transition(to phase: RolloutPhase, now: RolloutInstant, into actions: inout [RolloutAction]) {
        guard status.phase != phase else { return }
        let was = status.phase
        status.phase = phase
        status.lastTransitionAt = now
        actions.append(.phaseChanged(to: phase))
        if was == .progressing, spec.analysis.load != nil {
            actions.append(.stopLoad(spec.name))
        } else if phase == .progressing, status.stage == .analysis {
            sendLoad(into: &actions)
        }
    }

    /// Ask for the synthetic load (`analysis.load`) the canary is analysed with, from now on.
    func sendLoad(into actions: inout [RolloutAction]) {
        guard let load = spec.analysis.load else { return }
        let interval = spec.analysis.interval
        actions.append(.sendLoad(LoadPlan(
            canaryName: spec.name, canary: status.canary, stable: status.stable, load: load, interval: interval,
            duration: min(load.duration ?? interval, interval))))
    }

    mutating func markProgress(now: RolloutInstant) {
        status.lastProgressAt = now
        status.holdReason = nil
    }

    func isPastDeadline(_ now: RolloutInstant) -> Bool {
        guard let last = status.lastProgressAt else { return false }
        return now >= last + spec.analysis.progressDeadline
    }

    /// Record an event as `<canary name>: <text>` and hand it to every `event` webhook; with `alert`, also to every
    /// alert whose severity admits that level. As Flagger alerts, only the points of a release's life do: it started
    /// (`info`), a gate waits for approval (`warn`), it rolled back (`error`), its promotion completed (`info`) or
    /// did not (`warn`), a primary initialized (`info`); a step, a halt or a pause is for event webhooks and the
    /// history. `sendingAlerts` false sends none (a muted hook's closed gate).
    mutating func record(
        _ severity: RolloutEvent.Severity, _ text: String, alert level: AlertSeverity? = nil, describesWeights: Bool = false,
        sendingAlerts: Bool = true, now: RolloutInstant, into actions: inout [RolloutAction]
    ) {
        let message = "\(spec.name.name): \(text)"
        status.message = message
        let event = RolloutEvent(instant: now, severity: severity, message: message, describesWeights: describesWeights)
        actions.append(.record(event))
        let hooks = spec.analysis.webhooks(ofType: .event)
        if !hooks.isEmpty {
            actions.append(.notifyWebhooks(hooks.map { call($0, event: event) }))
        }
        guard let level, sendingAlerts else { return }
        let alerts = spec.analysis.alerts.filter { $0.severity.admits(level) }
        if !alerts.isEmpty {
            actions.append(.sendAlerts(alerts.map { alert($0, severity: level, message: message, now: now) }))
        }
    }

    func alert(_ alert: AlertSpec, severity: AlertSeverity, message: String, now: RolloutInstant) -> AlertCall {
        AlertCall(
            alert: alert, severity: severity, canary: spec.name, message: message, instant: now, phase: status.phase,
            canaryWeight: status.canaryWeight, stableWeight: status.stableWeight, canaryDestination: status.canary,
            stableDestination: status.stable, failedChecks: status.failedChecks, threshold: spec.analysis.threshold)
    }

    /// The call of `webhook`, with `event` when it tells one: as Flagger fills its payload, an event's message, type
    /// and time (Unix milliseconds) go into the metadata over the hook's own.
    func call(_ webhook: WebhookSpec, event: RolloutEvent? = nil) -> WebhookCall {
        var metadata = webhook.metadata
        if let event {
            metadata["eventMessage"] = event.message
            metadata["eventType"] = event.severity.rawValue
            metadata["timestamp"] = String(event.instant.sinceEpoch.wholeMilliseconds)
        }
        // Post-rollout hooks run while the promotion or rollback finishes; Flagger calls them with its outcome. A
        // confirm-promotion hook hears Progressing, as Flagger calls it (its status says WaitingPromotion meanwhile).
        let phase = switch (webhook.type, status.phase) {
        case (.postRollout, .promoting): RolloutPhase.succeeded.rawValue
        case (.postRollout, .rollingBack): RolloutPhase.failed.rawValue
        case (.confirmPromotion, _): RolloutPhase.progressing.rawValue
        default: status.flaggerPhase
        }
        return WebhookCall(webhook: webhook, payload: WebhookPayload(
            name: spec.name.name, namespace: spec.name.namespace, phase: phase, checksum: releaseChecksum,
            canaryWeight: status.canaryWeight, stableWeight: status.stableWeight,
            type: webhook.type, metadata: metadata, message: event?.message))
    }

    /// The canary version under release as 16 hex digits (FNV-1a of its destination and revision): the same for
    /// every call of one release, another for the next.
    public var releaseChecksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(status.canary)\u{0}\(spec.workload?.revision ?? "")".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
