import CoreMetrics
import Logging
import SerinCore

/// What the controller makes of a set of Canaries before they are applied (`CanaryController.admission`).
public struct CanaryAdmission: Sendable, Equatable {
    /// Canaries that would be refused, with why.
    public var refused: [ResourceName: String] = [:]
    /// The routes each live rollout owns, by its VirtualService's name.
    public var routing: [ResourceName: TrafficSplit] = [:]
    /// Canaries whose spec would start a release of a finished rollout, with the canary it releases: what an apply
    /// sets going, said with it (a Canary refused earlier may become valid once what serves has changed).
    public var starts: [ResourceName: Destination] = [:]

    public init() {}
}

/// Drives every Canary's `Rollout` state machine through the adapters: the reconcile loop.
///
/// Every event (a tick, a verdict, a webhook answer, a command, new specs) goes through one inbox, which
/// changes the rollout's state at once; the side effects — save, then weights, analyses, checks — go to the
/// Canary's own `EffectLane`, so the router and the store see one Canary's changes in the order the state
/// machine made them while a slow call for one Canary never holds up another. Analyses and webhook calls
/// run concurrently and come back as events.
public actor CanaryController {
    /// The adapters the controller works through.
    public struct Adapters: Sendable {
        public var router: any TrafficRouter
        public var metrics: any MetricProvider
        public var webhooks: any WebhookRunner
        public var store: any RolloutStore
        public var clock: any ControllerClock
        public var judge: any Judge
        public var workloads: any WorkloadReadiness
        /// Flagger's shape: scaling the target and promoting into the primary.
        public var deployments: any WorkloadManager
        /// Where `analysis.alerts` are posted.
        public var alerts: any AlertSender
        /// Sends `analysis.load`'s synthetic requests.
        public var load: any SyntheticTraffic

        public init(
            router: any TrafficRouter, metrics: any MetricProvider, webhooks: any WebhookRunner,
            store: any RolloutStore, clock: any ControllerClock = WallClock(), judge: any Judge = CanaryJudge(),
            workloads: any WorkloadReadiness = NoWorkloads(), deployments: any WorkloadManager = NoWorkloads(),
            alerts: any AlertSender = NoAlerts(),
            load: any SyntheticTraffic = NoSyntheticTraffic()
        ) {
            self.load = load
            self.deployments = deployments
            self.router = router
            self.metrics = metrics
            self.webhooks = webhooks
            self.store = store
            self.clock = clock
            self.judge = judge
            self.workloads = workloads
            self.alerts = alerts
        }
    }

    enum Message: Sendable {
        case tick
        case reconcile([CanarySpec], routes: [ResourceName: Result<ServingRoutes, RouteReadFailure>], reply: CheckedContinuation<[CanaryProblem], Never>)
        case command(RolloutCommand, ResourceName, reply: CheckedContinuation<CommandReply, Never>)
        case analysisFinished(ResourceName, AnalysisRequest, AnalysisSamples)
        /// The run, its combined result, and whether the hook that failed it mutes its alert (`muteAlert`).
        case webhooksFinished(ResourceName, WebhookRun, WebhookResult, alertMuted: Bool)
        case workloadChecked(ResourceName, WorkloadCheck, WorkloadState, primaryNotReady: Bool)
        case primaryUpdated(ResourceName, WorkloadPromotion, WorkloadState)
        /// `settled()`'s marker: every message sent before it has been handled.
        case settle(CheckedContinuation<Void, Never>)
    }

    private let adapters: Adapters
    /// The notifications given up on that the log has said, so the same failure is not said for every event.
    private let deliveryFailures = DeliveryFailures()
    private let logger: Logger
    private let tickInterval: Duration
    private var rollouts: [ResourceName: Rollout] = [:]
    /// The Canaries the last reconcile refused, as written, and why: status shows them (a refused Canary is not
    /// "no Canaries"), as `serin status` shows one a cluster's controller refused.
    private var refusals: [ResourceName: (spec: CanarySpec, reason: String)] = [:]
    private var latest: [ResourceName: [String: RecordedMeasurement]] = [:]
    private var watchers: [Int: AsyncStream<SequencedUpdate>.Continuation] = [:]
    private var nextWatcher = 0
    private var updateSequence = 0
    private let inbox: AsyncStream<Message>
    private let mailbox: AsyncStream<Message>.Continuation
    private var lanes: [ResourceName: EffectLane] = [:]
    /// Each Canary's `event` webhook calls and alerts, a lane per receiver (`noticeReceiver`): each receiver gets
    /// them in the order the rollout recorded the events, apart from the rollout's effects and from the other
    /// receivers, so a slow or failing receiver holds up neither the rollout nor the others' notices.
    private var notices: [ResourceName: [String: EffectLane]] = [:]
    private let noticeGrace: Duration
    /// Lanes of deleted Canaries still forgetting their state; a Canary created again waits for its old lane.
    private var retiring: [ResourceName: EffectLane] = [:]

    /// - Parameters:
    ///   - tickInterval: how often time is checked; analysis intervals are measured by the rollout itself.
    ///   - metricsFactory: where the controller's own metrics go (`serin_canary_weight`...); swift-metrics' global
    ///     factory unless a server exposes them itself.
    ///   - logger: where event lines go (`web: advance canary weight to 20%`); each Canary's lines carry
    ///     `canary: namespace/name`, its events the phase and canary weight too.
    /// - Parameter noticeGrace: how long a stopping controller waits for alerts and `event` webhooks still being
    ///   delivered; those still trying then are given up, each with a warning.
    public init(
        adapters: Adapters, tickInterval: Duration = .milliseconds(100), metricsFactory: any MetricsFactory = MetricsSystem.factory,
        noticeGrace: Duration = .seconds(5), logger: Logger
    ) {
        self.adapters = adapters
        self.tickInterval = tickInterval
        self.noticeGrace = noticeGrace
        metrics = ControllerMetrics(factory: metricsFactory)
        saveFailures = Counter(label: ControllerMetricFamily.stateSaveFailures.rawValue, factory: metricsFactory)
        self.logger = logger
        (inbox, mailbox) = AsyncStream.makeStream(of: Message.self)
    }

    // MARK: Public API

    /// Restores stored rollouts; call once before `run`.
    public func restore() async throws {
        let stored = try await adapters.store.loadRollouts()
        // A new leader's term restores again: series of Canaries the store no longer holds go with them.
        for name in rollouts.keys where stored[name] == nil { metrics.forget(name) }
        rollouts = stored
        for rollout in rollouts.values { metrics.observe(rollout) }
        metrics.count(rollouts.keys)
        // Each metric's last check, as the status shows it: read back, so a restart does not blank the verdicts of a
        // finished release (the status keeps only those of the current one).
        latest = [:]
        for name in rollouts.keys {
            let recent = (try? await adapters.store.measurements(for: name, limit: Self.restoredMeasurements)) ?? []
            var last: [String: RecordedMeasurement] = [:]
            for measurement in recent { last[measurement.metric] = measurement }
            if !last.isEmpty { latest[name] = last }
        }
    }

    /// How many of a Canary's newest stored measurements `restore` reads for the last check of each metric.
    static let restoredMeasurements = 64

    /// Handles events until the task is cancelled.
    public func run() async {
        let mailbox = self.mailbox
        let clock = adapters.clock
        let interval = tickInterval
        let ticker = Task {
            while !Task.isCancelled {
                try? await clock.sleep(for: interval)
                mailbox.yield(.tick)
            }
        }
        for await message in inbox {
            if Task.isCancelled {
                refuse(message)
                break
            }
            handle(message)
        }
        ticker.cancel()
        // What was decided is carried out — saved and routed — before the controller stops; and so is what the router's
        // answers decide meanwhile (a finished rollout's last word waits for them): those steps queue on new lanes, each
        // after the lane it follows, carried out in turn until no step is left.
        while !lanes.isEmpty {
            let draining = lanes
            lanes = [:]
            for (name, lane) in draining { retiring[name] = lane }
            for (name, lane) in draining {
                await lane.finish()
                retired(lane, of: name)
            }
        }
        // Notifications get a bounded grace: a receiver that does not answer must not hold up a stopping
        // controller (Kubernetes kills it after its termination grace period, before the lease is released).
        let delivering = notices.values.flatMap(\.values)
        notices = [:]
        await withTaskGroup(of: Void.self) { lanes in
            for lane in delivering { lanes.addTask { [noticeGrace] in await lane.finish(within: noticeGrace) } }
        }
    }

    /// Answers a message that arrived as the controller stopped, so its sender does not wait forever.
    private func refuse(_ message: Message) {
        switch message {
        case .reconcile(let specs, _, let reply):
            reply.resume(returning: specs.map { CanaryProblem(canary: $0.name, message: "\($0.name.name): the controller is stopping") })
        case .command(_, _, let reply): reply.resume(returning: .rejected("the controller is stopping"))
        case .settle(let done): done.resume()
        case .tick, .analysisFinished, .webhooksFinished, .workloadChecked, .primaryUpdated: break
        }
    }

    /// Brings the rollouts in line with these Canary specs: new Canaries start a rollout from what their routes
    /// serve now, changed ones are handed to their rollout (a new canary starts a new release), removed ones are
    /// forgotten. Returns problems (an invalid spec, a stable that does not serve), one per Canary; a Canary with
    /// a problem keeps its rollout as it was.
    @discardableResult
    public func reconcile(_ specs: [CanarySpec]) async -> [CanaryProblem] {
        // What serves is read for Canaries without a rollout, before the inbox decides anything.
        var routes: [ResourceName: Result<ServingRoutes, RouteReadFailure>] = [:]
        for spec in specs where rollouts[spec.name] == nil {
            do {
                routes[spec.name] = .success(try await adapters.router.servingRoutes(for: spec))
            } catch {
                routes[spec.name] = .failure(RouteReadFailure(message: "\(error)"))
            }
        }
        return await withCheckedContinuation { continuation in
            mailbox.yield(.reconcile(specs, routes: routes, reply: continuation))
        }
    }

    /// Why the routes of a Canary's VirtualService could not be read.
    struct RouteReadFailure: Error {
        var message: String
    }

    /// What `reconcile` would make of these specs, without changing anything: the Canaries it would refuse, and
    /// the routes every live rollout owns. `routes` are the VirtualServices' routes as they would be (by
    /// VirtualService name), for Canaries that have no rollout yet. Embedded mode's `apply` asks first, so a
    /// refused Canary leaves every resource as it was, and a VirtualService applied again keeps the rollout's
    /// weights instead of sending traffic back to a version a promotion retired.
    public func admission(of specs: [CanarySpec], routes: [ResourceName: ServingRoutes]) -> CanaryAdmission {
        var admission = CanaryAdmission()
        for spec in specs {
            // What `reconcile` would refuse whatever serves: a Canary these adapters cannot run.
            if let workload = spec.workload, let why = adapters.deployments.refusal(ofCanaryOn: workload.deployment) {
                admission.refused[spec.name] = why
                continue
            }
            if let rollout = rollouts[spec.name] {
                if let conflict = rollout.conflict(with: spec) {
                    admission.refused[spec.name] = conflict.description
                } else if rollout.startsRelease(with: spec) {
                    admission.starts[spec.name] = spec.canary
                }
            } else if let serving = routes[spec.targetRef], case .failure(let conflict) = serving.stable(for: spec) {
                admission.refused[spec.name] = conflict.description
            }
        }
        for rollout in rollouts.values where rollout.ownsRoutes {
            admission.routing[rollout.spec.targetRef] = rollout.split
        }
        return admission
    }

    /// A person's command: promote, abort, pause, resume, or start again (`rollout`).
    public func execute(_ command: RolloutCommand, canary name: ResourceName) async -> CommandReply {
        await withCheckedContinuation { continuation in
            mailbox.yield(.command(command, name, reply: continuation))
        }
    }

    public func statuses() -> [CanaryStatus] {
        Set(rollouts.keys).union(refusals.keys).sorted().compactMap(status(of:))
    }

    /// The rollout's status; a refusal of the Canary as now written stands in its message, over what the last
    /// accepted spec does. A Canary refused before it ever ran shows as its spec would start.
    public func status(of name: ResourceName) -> CanaryStatus? {
        let refusal = refusals[name]
        guard let rollout = rollouts[name] else {
            return refusal.flatMap { CanaryStatus.refused($0.spec, reason: $0.reason) }
        }
        var status = CanaryStatus(rollout: rollout, measurements: latest[name].map { Array($0.values).sorted { $0.metric < $1.metric } } ?? [])
        if let refusal { status.message = CanaryStatus.refusalMessage(refusal.reason) }
        return status
    }

    public func rollout(named name: ResourceName) -> Rollout? { rollouts[name] }

    /// The Canary's recorded events, oldest first (the newest `limit` when given).
    public func events(of name: ResourceName, limit: Int? = nil) async throws -> [RolloutEvent] {
        await pendingWorkDone(for: name)
        return try await adapters.store.events(for: name, limit: limit)
    }

    /// The Canary's recorded measurements, oldest first (the newest `limit` when given).
    public func measurements(of name: ResourceName, limit: Int? = nil) async throws -> [RecordedMeasurement] {
        await pendingWorkDone(for: name)
        return try await adapters.store.measurements(for: name, limit: limit)
    }

    /// Returns once the Canary's effects queued so far are carried out, so what its status shows is in the store.
    private func pendingWorkDone(for name: ResourceName) async {
        await lanes[name]?.drained()
    }

    /// Returns once a Canary that `reconcile` no longer gives has had what its rollout decided carried out, and its state
    /// forgotten: from then on the controller sets no weights and scales nothing for it (a revert on deletion follows).
    public func forgotten(_ name: ResourceName) async {
        guard rollouts[name] == nil else { return }
        await retiring[name]?.finish()
    }

    /// Returns once the controller has nothing left to do until time passes or someone asks for something: every
    /// message sent so far is handled, every Canary's effects are carried out (saved, routed, forgotten), and every
    /// analysis, webhook run and workload check they started has answered and been handled in turn, with its own
    /// effects. Event webhooks, fired and forgotten, are not waited for.
    ///
    /// For tests on a manual clock: move time, await this, then look at the ports — no sleeping, no polling. Call it
    /// while `run` runs; an adapter call that never returns keeps it waiting. On the wall clock it returns at the
    /// first quiet moment between ticks.
    public func settled() async {
        while true {
            let queued = effectsQueued
            await withCheckedContinuation { mailbox.yield(.settle($0)) }
            for lane in Array(lanes.values) { await lane.drained() }
            for lane in Array(retiring.values) { await lane.finish() }
            if answersOwed > 0 {
                await withCheckedContinuation { answerWaiters.append($0) }
            } else if effectsQueued == queued {
                return
            }
        }
    }

    /// Finds a Canary by `name` or `namespace/name`.
    public func resolve(_ reference: String) -> ResourceName? {
        let wanted = ResourceName(reference: reference, relativeTo: ResourceName.defaultNamespace)
        if rollouts[wanted] != nil || refusals[wanted] != nil { return wanted }
        let byName = Set(rollouts.keys).union(refusals.keys).filter { $0.name == reference }.sorted()
        return byName.count == 1 ? byName[0] : nil
    }

    /// Updates as they happen, numbered, until the consumer stops listening. A consumer more than 1,024
    /// updates behind loses the oldest.
    public func updates() -> AsyncStream<SequencedUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: SequencedUpdate.self, bufferingPolicy: .bufferingNewest(1024))
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    private func removeWatcher(_ id: Int) { watchers[id] = nil }

    /// How many consumers of `updates()` are listening.
    public var watcherCount: Int { watchers.count }

    // MARK: Events

    private func handle(_ message: Message) {
        let now = adapters.clock.now()
        switch message {
        case .tick:
            for name in rollouts.keys.sorted() {
                step(name) { $0.tick(now: now) }
            }
        case .reconcile(let specs, let routes, let reply):
            reply.resume(returning: reconcileNow(specs, routes: routes, now: now))
        case .command(let command, let name, let reply):
            reply.resume(returning: run(command, on: name, now: now))
        case .analysisFinished(let name, let request, let samples):
            answerArrived()
            guard let rollout = rollouts[name] else { return }
            let judgement = adapters.judge.judge(samples, for: request)
            let measurements = Self.measurements(of: samples, judged: judgement, for: request, now: now)
            metrics.analysed(
                rollout, verdict: judgement.verdict, took: analysisStarted.removeValue(forKey: name).map { now - $0 }, measurements: measurements)
            for measurement in measurements {
                latest[name, default: [:]][measurement.metric] = measurement
                broadcast(.measured(measurement))
            }
            step(name, measurements: measurements) { $0.analysisCompleted(judgement, now: now) }
        case .webhooksFinished(let name, let run, let result, let muted):
            answerArrived()
            step(name) { $0.webhookCompleted(ticket: run.ticket, result: result, alertMuted: muted, now: now) }
        case .workloadChecked(let name, let check, let state, let primaryNotReady):
            answerArrived()
            step(name) {
                $0.workloadChecked(ticket: check.ticket, ready: state.ready, reason: state.reason, primaryNotReady: primaryNotReady, stalled: state.stalled, now: now)
            }
        case .primaryUpdated(let name, let promotion, let state):
            answerArrived()
            step(name) { $0.primaryUpdated(ticket: promotion.ticket, ready: state.ready, reason: state.reason, stalled: state.stalled, now: now) }
        case .settle(let done):
            done.resume()
        }
    }

    private func reconcileNow(
        _ specs: [CanarySpec], routes: [ResourceName: Result<ServingRoutes, RouteReadFailure>], now: RolloutInstant
    ) -> [CanaryProblem] {
        var problems: [CanaryProblem] = []
        refusals = [:]
        func refuse(_ spec: CanarySpec, _ reason: String) {
            problems.append(CanaryProblem(canary: spec.name, message: "\(spec.name.name): \(reason)"))
            refusals[spec.name] = (spec, reason)
        }
        let wanted = Set(specs.map(\.name))
        for name in rollouts.keys where !wanted.contains(name) {
            // Said: at a restart from files that lost the Canary, its routes would otherwise change without a word.
            if let gone = rollouts[name], gone.ownsRoutes {
                let said = "\(name.displayName): its Canary is no longer given: the rollout (\(gone.status.phase.rawValue) at "
                    + "\(gone.status.stableWeight)/\(gone.status.canaryWeight)) is forgotten, and Serin no longer sets the weights "
                    + "of VirtualService \(gone.spec.targetRef.displayName)"
                logger(for: name).warning("\(said)")
            }
            rollouts[name] = nil
            let load = adapters.load
            Task { await load.stop(name) }
            latest[name] = nil
            metrics.forget(name)
            let (store, logger) = (adapters.store, logger(for: name))
            if let delivering = notices.removeValue(forKey: name) {
                Task { for lane in delivering.values { await lane.finish() } }
            }
            let lane = lanes.removeValue(forKey: name) ?? EffectLane()
            // After the Canary's pending saves, so none of them brings its state back.
            effectsQueued += 1
            lane.enqueue {
                do { try await store.delete(name) } catch { logger.error("\(name.displayName): cannot forget stored state: \(error)", error: error) }
            }
            retiring[name] = lane
            Task {
                await lane.finish()
                self.retired(lane, of: name)
            }
        }
        for spec in specs {
            // A Canary this controller's adapters cannot run at all (a Deployment target, with no Kubernetes): refused,
            // so `serin status` lists it with why, as any other refusal.
            if let workload = spec.workload, let why = adapters.deployments.refusal(ofCanaryOn: workload.deployment) {
                refuse(spec, why)
                continue
            }
            if let existing = rollouts[spec.name] {
                if existing.spec == spec {
                    if existing.awaitsStart {
                        step(spec.name) { $0.start(now: now) }
                    } else if restoredThisRun.insert(spec.name).inserted {
                        // First sight since start-up: the router lost the weights with the previous process.
                        resume(spec.name, now: now)
                    }
                    continue
                }
                let firstSight = restoredThisRun.insert(spec.name).inserted
                if let rejection = step(spec.name, { $0.specChanged(spec, now: now) }).rejection {
                    refuse(spec, "\(rejection)")
                    // The stored rollout goes on as it was: restored as any other, its weights put back and its first
                    // check a whole interval away, not at once on the moment of traffic the new process has seen.
                    if firstSight, existing.status.phase != .initialized { resume(spec.name, now: now) }
                } else if existing.startsRelease(with: spec) {
                    // A finished rollout only adopts a new spec; a new canary is a new release to roll out, and a
                    // failed one is tried again with its new schedule. A promoted canary is not released again.
                    step(spec.name) { $0.restart(now: now) }
                } else if rollouts[spec.name]?.awaitsStart == true {
                    // A start that spec.suspend held, now unsuspended.
                    step(spec.name) { $0.start(now: now) }
                } else if firstSight, existing.status.phase != .initialized, !existing.spec.isNewRevision(comparedTo: spec) {
                    // Settings changed while Serin was down: adopt them, then put the weights back.
                    resume(spec.name, now: now)
                } else if firstSight, existing.status.phase.isFinished {
                    // A stored rollout that already released this canary (another example's Canary of the same name,
                    // on the same state file): nothing moves, and that is said rather than left to look like a stall.
                    resume(spec.name, now: now)
                    logger(for: spec.name).notice(
                        "\(spec.name.displayName): canary \(spec.canary) was released already (\(existing.status.phase.rawValue)), as the state file says: nothing to release; `serin rollout \(spec.name.name)` releases it again, a new spec.canary the next version, or another --state starts afresh")
                }
            } else {
                let stable: Destination?
                switch routes[spec.name] {
                case .success(let serving)?:
                    switch serving.stable(for: spec) {
                    case .success(let found):
                        stable = found
                    case .failure(let conflict):
                        refuse(spec, "\(conflict)")
                        continue
                    }
                case .failure(let failure)?:
                    // A written stable still starts; setting the weights will say what is wrong with the routes.
                    guard spec.stable != nil else {
                        refuse(spec, "cannot tell what serves now: \(failure.message); write spec.stable")
                        continue
                    }
                    stable = spec.stable
                case nil:
                    // Created meanwhile by another reconcile, or removed again: the next reconcile reads its routes.
                    guard spec.stable != nil else { continue }
                    stable = spec.stable
                }
                do {
                    rollouts[spec.name] = try Rollout(spec: spec, stable: stable)
                } catch {
                    refuse(spec, "\(error)")
                    continue
                }
                if case .success(let serving)? = routes[spec.name], let stable {
                    let displaced = serving.displaced(stable: stable, canary: spec.canary)
                    if !displaced.isEmpty {
                        let listed = displaced.map { "\($0.destination) (\($0.weight)%)" }.joined(separator: ", ")
                        logger(for: spec.name).notice(
                            "\(spec.name.displayName): \(listed) \(displaced.count == 1 ? "leaves" : "leave") the routes of \(serving.virtualService): the release splits them between the stable \(stable) and the canary \(spec.canary)")
                    }
                }
                restoredThisRun.insert(spec.name)
                step(spec.name) { $0.start(now: now) }
            }
        }
        // A stored rollout the first reconcile did not resume puts no stored weights back (forgotten, or released
        // anew): what the first table withheld of them is moot.
        withheldAtStart = [:]
        metrics.count(rollouts.keys)
        return problems
    }

    /// A stored rollout seen for the first time since start-up: said in the log (where it stands, from the state it
    /// was saved in), then its weights put back and its step resumed.
    private func resume(_ name: ResourceName, now: RolloutInstant) {
        if let rollout = rollouts[name] {
            let status = CanaryStatus(rollout: rollout, measurements: [])
            let stage = status.phase.isFinished ? "" : " at \(status.stepLabel)"
            logger(for: name).notice(
                "\(name.displayName): resumed from stored state: \(status.phase.rawValue)\(stage), weights \(status.stableWeight)/\(status.canaryWeight) (stable \(status.stable), canary \(status.canary))")
        }
        // What the first routing table withheld of the stored weights, heard once the rollout has resumed: its
        // history reads as it happened, resumed and then halted.
        if let withheld = withheldAtStart.removeValue(forKey: name) {
            step(name) { $0.weightsFailed(withheld.split, reason: withheld.reason, now: now) }
        }
        step(name) { $0.restored(now: now) }
    }

    /// A restored rollout's split its routes do not serve as stored (embedded mode's first routing table keeps the
    /// share of a canary nothing serves with the stable): the rollout learns it as any refused split, once it is
    /// resumed (`resume`) when it has not been yet.
    public func weightsWithheld(_ split: TrafficSplit, reason: String, of name: ResourceName) {
        guard restoredThisRun.contains(name) else {
            withheldAtStart[name] = (split, reason)
            return
        }
        _ = step(name) { $0.weightsFailed(split, reason: reason, now: adapters.clock.now()) }
    }

    /// The router refused a split: the rollout decides what that means (`Rollout.weightsFailed`), and its event
    /// says so in the log and the history.
    private func weightsFailed(_ split: TrafficSplit, error: any Error, of name: ResourceName) {
        step(name) { $0.weightsFailed(split, reason: "\(error)", now: adapters.clock.now()) }
    }

    /// Splits the router refused outside the analysis, sent again: after an apply changed the routes (a VirtualService
    /// that names the stable again), they may serve now, and the rollout hears so. One still refused says nothing new.
    public func retryRefusedWeights() async {
        for (name, rollout) in rollouts where rollout.awaitsRefusedWeights {
            let split = rollout.split
            guard (try? await adapters.router.setWeights(for: rollout.spec, split)) != nil else { continue }
            weightsApplied(split, of: name)
        }
    }

    /// The router applied a split: a rollout whose weights it refused before, or whose last word (a promotion's or a
    /// rollback's) waits to say where the traffic is, hears they serve now. Most splits are applied at the first try, and step no rollout.
    private func weightsApplied(_ split: TrafficSplit, of name: ResourceName) {
        guard rollouts[name]?.awaitsAppliedWeights == true else { return }
        step(name) { $0.weightsApplied(split, now: adapters.clock.now()) }
    }

    private func retired(_ lane: EffectLane, of name: ResourceName) {
        if retiring[name] === lane { retiring[name] = nil }
    }

    private var restoredThisRun: Set<ResourceName> = []
    /// Splits the first routing table withheld (`weightsWithheld`) of rollouts not resumed yet.
    private var withheldAtStart: [ResourceName: (split: TrafficSplit, reason: String)] = [:]
    private var metrics: ControllerMetrics
    /// Saves that failed, counted where they fail (off the actor, in a rollout's lane).
    private nonisolated let saveFailures: Counter
    private var analysisStarted: [ResourceName: RolloutInstant] = [:]

    // What `settled()` waits for: effects queued on lanes so far, and answers to actions not handled yet.
    private var effectsQueued = 0
    private var answersOwed = 0
    private var answerWaiters: [CheckedContinuation<Void, Never>] = []

    private func answerArrived() {
        answersOwed -= 1
        let waiters = answerWaiters
        answerWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func run(_ command: RolloutCommand, on name: ResourceName, now: RolloutInstant) -> CommandReply {
        if rollouts[name] == nil, let refusal = refusals[name] {
            return .rejected("\(name.name) was refused, so nothing runs it: \(refusal.reason)")
        }
        guard rollouts[name] != nil else {
            return .notFound("no Canary named \(name.name) (known: \(rollouts.keys.sorted().map(\.name).joined(separator: ", ")))")
        }
        let outcome = step(name) { $0.execute(command, now: now) }
        if let rejection = outcome.rejection { return .rejected("\(name.name): \(rejection)") }
        return status(of: name).map(CommandReply.accepted) ?? .notFound(name.name)
    }

    /// Applies one event to one rollout and queues its effects on the Canary's lane: save the result with its
    /// new events, then run the actions.
    @discardableResult
    private func step(
        _ name: ResourceName, measurements: [RecordedMeasurement] = [], _ event: (inout Rollout) -> RolloutOutcome
    ) -> RolloutOutcome {
        guard var rollout = rollouts[name] else { return .accepted([]) }
        let settledBefore = rollout.isSettled
        let outcome = event(&rollout)
        guard case .accepted(let actions) = outcome else { return outcome }
        rollouts[name] = rollout
        defer {
            if !settledBefore, rollout.isSettled, refusals[name] != nil { recheckRefused(name) }
        }
        metrics.observe(rollout)
        if actions.contains(where: { if case .analyze = $0 { true } else { false } }) {
            analysisStarted[name] = adapters.clock.now()
        }
        answersOwed += actions.count(where: \.isAnswered)
        effectsQueued += 1
        let lane = lanes[name] ?? EffectLane(after: retiring.removeValue(forKey: name))
        lanes[name] = lane
        var noticeLanes: [String: EffectLane] = [:]
        for receiver in actions.flatMap(Self.noticeReceivers) {
            let noticeLane = notices[name, default: [:]][receiver] ?? EffectLane()
            notices[name, default: [:]][receiver] = noticeLane
            noticeLanes[receiver] = noticeLane
        }
        lane.enqueue { [self, rollout, noticeLanes] in
            await self.carryOut(actions, of: rollout, measurements: measurements, notices: noticeLanes)
        }
        return outcome
    }

    /// A Canary refused against a rollout still in flight (at a restart, files behind an apply that released another
    /// version since) is tried again once that rollout has settled, as an apply would try it: what serves has changed,
    /// so it may start its release now, or be refused for what serves now. Its refusal never outlives what it said.
    private func recheckRefused(_ name: ResourceName) {
        guard let refused = refusals.removeValue(forKey: name)?.spec, let settled = rollouts[name] else { return }
        let now = adapters.clock.now()
        if let rejection = step(name, { $0.specChanged(refused, now: now) }).rejection {
            refusals[name] = (refused, "\(rejection)")
        } else if settled.startsRelease(with: refused) {
            step(name) { $0.restart(now: now) }
        }
    }

    /// Who an action's notices go to, each with a lane of its own: an `event` webhook, or an alert provider.
    static func noticeReceivers(_ action: RolloutAction) -> [String] {
        switch action {
        case .notifyWebhooks(let calls): calls.map(noticeReceiver)
        case .sendAlerts(let calls): calls.map(noticeReceiver)
        default: []
        }
    }

    static func noticeReceiver(_ call: WebhookCall) -> String { "webhook \(call.webhook.name)" }
    static func noticeReceiver(_ call: AlertCall) -> String { "alert provider \(call.alert.provider)" }

    /// Saves the rollout with the events its actions record, tells the log and watchers, then runs the rest.
    private nonisolated func carryOut(
        _ actions: [RolloutAction], of rollout: Rollout, measurements: [RecordedMeasurement], notices: [String: EffectLane]
    ) async {
        let name = rollout.spec.name
        let logger = logger(for: name)
        let events = actions.compactMap { action -> RolloutEvent? in
            if case .record(let event) = action { return event }
            return nil
        }
        if !events.isEmpty || !measurements.isEmpty || !actions.isEmpty {
            do {
                try await adapters.store.save(rollout, events: events, measurements: measurements)
            } catch {
                saveFailures.increment()
                logger.error("\(name.displayName): cannot save rollout state: \(error)", error: error)
            }
        }
        var rolloutLogger = logger
        rolloutLogger[metadataKey: "phase"] = "\(rollout.status.phase.rawValue)"
        rolloutLogger[metadataKey: "canaryWeight"] = "\(rollout.status.canaryWeight)"
        // What a step says after it sets weights ("advance canary weight to 20%", "promotion: canary weight 60%") is logged
        // once the router applied them; the rest at once.
        let said = EventLines(actions)
        for event in said.now { Self.log(event, of: name, to: rolloutLogger) }
        // Events go to `/events` where the step recorded them, among its phase changes and weights, in that order.
        await perform(actions, for: name, spec: rollout.spec, notices: notices) { index, refusal in
            let held = said.afterWeights[index] ?? []
            guard let refusal else {
                for event in held { Self.log(event, of: name, to: rolloutLogger) }
                return
            }
            guard !held.isEmpty, case .setWeights(let split) = actions[index] else { return }
            // Not said as done: the routes still carry the weights before these.
            let undone = held.map { ResourceName.unqualified($0.message, name: name.name) }
            rolloutLogger.warning("""
                \(name.displayName): the router refused weights \(split.stable.weight)/\(split.canary.weight): \(refusal); \
                the routes keep the weights before them, so this is not in effect: \(undone.joined(separator: "; "))
                """)
        }
    }

    /// A rollout event's line in the log: the event says `web: …`; the log, where every Canary's lines meet, says
    /// which namespace's web.
    private nonisolated static func log(_ event: RolloutEvent, of name: ResourceName, to logger: Logger) {
        logger.log(level: event.severity == .warning ? .warning : .info, "\(name.qualifying(event.message))")
    }

    /// A step's events for the log: those said at once, and those that say what the weights set before them do
    /// (`describesWeights`), by the index of that `setWeights`, said once the router took them. A decision recorded
    /// after weights it does not describe (a check that failed, a rollback's reason) is said at once.
    struct EventLines {
        var now: [RolloutEvent] = []
        var afterWeights: [Int: [RolloutEvent]] = [:]

        init(_ actions: [RolloutAction]) {
            var weights: Int?
            for (index, action) in actions.enumerated() {
                switch action {
                case .setWeights: weights = index
                case .record(let event):
                    if event.describesWeights, let weights { afterWeights[weights, default: []].append(event) } else { now.append(event) }
                default: continue
                }
            }
        }
    }

    /// The controller's logger for one Canary: every line carries `canary: namespace/name`.
    nonisolated func logger(for name: ResourceName) -> Logger {
        var logger = self.logger
        logger[metadataKey: "canary"] = "\(name)"
        return logger
    }

    /// Runs `actions`; `weightsAnswered` hears the router's answer to the `setWeights` at each index (nil: applied).
    private nonisolated func perform(
        _ actions: [RolloutAction], for name: ResourceName, spec: CanarySpec, notices: [String: EffectLane],
        weightsAnswered: (Int, (any Error)?) -> Void
    ) async {
        let mailbox = self.mailbox
        let adapters = self.adapters
        let failures = self.deliveryFailures
        // A Deployment is scaled to zero only once the weights that take its traffic away serve: while the router
        // refuses them, requests still reach it (Flagger scales down after its routes are set). The rollout asks again
        // when they are applied (`Rollout.weightsApplied`).
        var refused: TrafficSplit?
        for (index, action) in actions.enumerated() {
            switch action {
            case .setWeights(let split):
                do {
                    try await adapters.router.setWeights(for: spec, split)
                    refused = nil
                    weightsAnswered(index, nil)
                    await weightsApplied(split, of: name)
                    await broadcast(.weights(
                        canary: name, stableWeight: split.stable.weight, canaryWeight: split.canary.weight,
                        stable: split.stable.destination, canaryDestination: split.canary.destination))
                } catch {
                    refused = split
                    weightsAnswered(index, error)
                    // Decided before this lane goes on, so `settled()` sees the rollout's answer to it.
                    await weightsFailed(split, error: error, of: name)
                }
            case .runWebhooks(let run):
                Task {
                    let results = await withTaskGroup(of: (Int, WebhookResult).self) { tasks in
                        for (index, call) in run.calls.enumerated() {
                            tasks.addTask { (index, await adapters.webhooks.call(call)) }
                        }
                        var results: [(Int, WebhookResult)] = []
                        for await result in tasks { results.append(result) }
                        return results.sorted { $0.0 < $1.0 }.map(\.1)
                    }
                    mailbox.yield(.webhooksFinished(name, run, run.result(of: results), alertMuted: run.mutesAlert(results)))
                }
            case .notifyWebhooks(let calls):
                let runner = adapters.webhooks
                let logger = logger(for: name)
                for call in calls {
                    Self.enqueue(on: notices[Self.noticeReceiver(call)]) {
                        await Self.deliver("event webhook \(call.webhook.name)", of: name, logger: logger, failures: failures) { await runner.call(call) }
                    }
                }
            case .sendAlerts(let calls):
                let sender = adapters.alerts
                let logger = logger(for: name)
                for call in calls {
                    Self.enqueue(on: notices[Self.noticeReceiver(call)]) {
                        await Self.deliver("alert '\(call.alert.name)'", of: name, logger: logger, failures: failures) { await sender.send(call) }
                    }
                }
            case .analyze(let request):
                Task {
                    let samples = await adapters.metrics.samples(for: request)
                    mailbox.yield(.analysisFinished(name, request, samples))
                }
            case .checkWorkload(let check):
                Task {
                    // The primary first, as Flagger asks it before the canary: the stable side must take what it keeps.
                    if let primary = check.primary {
                        let state = await adapters.workloads.readiness(of: primary, readyThreshold: check.primaryReadyThreshold)
                        guard state.ready else {
                            mailbox.yield(.workloadChecked(name, check, state, primaryNotReady: true))
                            return
                        }
                    }
                    let state = await adapters.workloads.readiness(of: check.deployment, readyThreshold: check.readyThreshold)
                    mailbox.yield(.workloadChecked(name, check, state, primaryNotReady: false))
                }
            case .scaleWorkload(let scaling):
                if scaling.size == .zero, let refused {
                    logger(for: name).warning(
                        "\(name.displayName): not scaling Deployment \(scaling.target.name) to zero while the router refuses weights \(refused.stable.weight)/\(refused.canary.weight): it still takes traffic; it is scaled once they apply"
                    )
                    continue
                }
                do {
                    try await adapters.deployments.scale(scaling)
                } catch {
                    logger(for: name).error("\(name.displayName): cannot scale Deployment \(scaling.target.name): \(error)", error: error)
                }
            case .promoteWorkload(let promotion):
                Task {
                    let state = await adapters.deployments.promote(promotion)
                    mailbox.yield(.primaryUpdated(name, promotion, state))
                }
            case .sendLoad(let plan):
                await adapters.load.start(plan)
            case .stopLoad(let canary):
                await adapters.load.stop(canary)
            case .record(let event):
                await broadcast(.event(canary: name, event))
            case .phaseChanged(let phase):
                await broadcast(.phase(canary: name, phase))
            case .finished(let phase):
                // Said once: the step that finished has already changed the phase to it.
                if !actions.contains(.phaseChanged(to: phase)) { await broadcast(.phase(canary: name, phase)) }
            }
        }
    }

    /// `work` on its receiver's lane, which `step` made for every receiver its actions name (on a task of its own,
    /// should one be missing: delivered still, though not in order).
    static func enqueue(on lane: EffectLane?, _ work: @escaping EffectLane.Work) {
        if let lane { lane.enqueue(work) } else { Task { await work() } }
    }

    /// How often an `event` webhook or an alert is tried, and the wait before the first retry (doubled after each).
    static let deliveryAttempts = 3
    static let firstRetryDelay = Duration.milliseconds(500)

    /// One notification (an `event` webhook call, an alert): tried again with backoff while the receiver fails,
    /// then given up with a warning naming `what` and the last reason — only the first time it fails so
    /// (`failures`, per Canary `canary` and receiver): the same failure again is a debug line, and a delivery after it
    /// says the receiver delivers again.
    /// When the controller stops (the task is cancelled), it is given up after the attempt under way, with a
    /// warning that says so.
    static func deliver(
        _ what: String, of canary: ResourceName, logger: Logger, failures: DeliveryFailures, _ attempt: () async -> WebhookResult
    ) async {
        var delay = firstRetryDelay
        let receiver = "\(canary) \(what)"
        for tried in 1...deliveryAttempts {
            guard case .failed(let reason) = await attempt() else {
                if failures.delivered(receiver) { logger.info("\(what) delivered again") }
                return
            }
            if Task.isCancelled {
                logger.warning("\(what) not delivered: the controller stopped after \(tried) of \(deliveryAttempts) attempts: \(reason)")
                return
            }
            if tried == deliveryAttempts {
                if failures.gaveUp(receiver, reason: reason) {
                    logger.warning("\(what) not delivered after \(tried) attempts: \(reason) (said once while it fails so)")
                } else {
                    logger.debug("\(what) not delivered after \(tried) attempts, as before: \(reason)")
                }
                return
            }
            try? await Task.sleep(for: delay)
            delay *= 2
        }
    }

    private func broadcast(_ update: ControllerUpdate) {
        updateSequence += 1
        let sequenced = SequencedUpdate(sequence: updateSequence, update: update)
        for watcher in watchers.values { watcher.yield(sequenced) }
    }

    /// One measurement per metric check, with the verdict and comparison the judge gave that check, for history
    /// and display.
    static func measurements(
        of samples: AnalysisSamples, judged judgement: Judgement, for request: AnalysisRequest, now: RolloutInstant
    ) -> [RecordedMeasurement] {
        request.metrics.map { check in
            let reading = samples[metric: check.name]
            let judged = judgement.checks.first { $0.metric == check.name }
            let verdict = judged?.verdict ?? judgement.verdict
            var canaryValue: Double?
            var stableValue: Double?
            // A MetricTemplate's value counts no requests: none are said, rather than 0 (which reads as no traffic).
            var canaryRequests: Int?
            var stableRequests: Int?
            var window: Duration?
            switch reading {
            case .traffic(let canary, let stable):
                window = canary.window
                canaryRequests = canary.requests
                stableRequests = stable?.requests ?? 0
                switch check.kind {
                case .requestSuccessRate:
                    canaryValue = canary.successRate
                    stableValue = stable?.successRate
                case .requestDuration, .custom:
                    canaryValue = canary.p99Milliseconds
                    stableValue = stable?.p99Milliseconds
                }
            case .value(let value, let span):
                canaryValue = value
                window = span
            case .unavailable, nil:
                break
            }
            return RecordedMeasurement(
                canary: request.canaryName, instant: now, metric: check.name, canaryValue: canaryValue,
                stableValue: stableValue, canaryRequests: canaryRequests, stableRequests: stableRequests,
                canaryWeight: request.canaryWeight, window: window, verdict: verdict, comparison: judged?.comparison,
                mirrored: request.canaryMirrored
            )
        }
    }
}

extension RolloutAction {
    /// Whether carrying it out sends an answer back to the inbox (an analysis, a webhook run, a workload check or
    /// promotion), which `settled()` waits for.
    fileprivate var isAnswered: Bool {
        switch self {
        case .analyze, .runWebhooks, .checkWorkload, .promoteWorkload: true
        case .setWeights, .notifyWebhooks, .sendAlerts, .scaleWorkload, .sendLoad, .stopLoad, .record, .phaseChanged, .finished: false
        }
    }
}
