/// A Canary's rollout run over synthetic traffic on a simulated clock: the real state machine and judge, every
/// analysis answered from `SimulatedTraffic`, webhooks passing, workloads ready and `pause: promote` steps promoted at once. Thousands of releases a
/// minute, so a schedule and its thresholds can be tried before they meet a real release. A MetricTemplate's metric
/// has no synthetic value and is left out of the checks (`notSimulated` says which and why).
public struct RolloutSimulation: Sendable {
    /// How one simulated release ended.
    public struct Outcome: Sendable, Equatable {
        /// `succeeded` (promoted), `failed` (rolled back), or nil when it had not finished within the time limit.
        public var phase: RolloutPhase?
        /// Simulated time from the start to the finish (or to the limit).
        public var elapsed: Duration
        /// Analyses run.
        public var analyses: Int
        /// Rolled back because nothing decided in time (the progress deadline, or `maxStepDuration` with the
        /// evidence still undecided), not because the canary was judged worse.
        public var timedOut: Bool = false
    }

    public var spec: CanarySpec
    public var traffic: SimulatedTraffic
    public var judge: any Judge
    /// A release still running after this long is counted as undecided.
    public var timeLimit: Duration

    public init(spec: CanarySpec, traffic: SimulatedTraffic, judge: any Judge = CanaryJudge(), timeLimit: Duration = .seconds(24 * 3_600)) {
        self.spec = spec
        self.traffic = traffic
        self.judge = judge
        self.timeLimit = timeLimit
    }

    /// One release with the draws of `seed`.
    public func run(seed: UInt64) throws(CanarySpecError) -> Outcome {
        var generator = SplitMix64(seed: seed)
        let start = RolloutInstant(sinceEpoch: .seconds(1_000_000))
        var rollout = try Rollout(spec: simulatedSpec, stable: spec.stable ?? Destination(host: "stable"))
        var now = start
        var analyses = 0
        var queue = rollout.start(now: now).actions
        if var workload = simulatedSpec.workload {
            // Flagger's shape: first sight only makes the primary serve the target's revision; what is released, and
            // simulated, is the next revision, as a new image would start it.
            for case .promoteWorkload(let promotion) in queue {
                _ = rollout.primaryUpdated(ticket: promotion.ticket, ready: true, reason: "", now: now)
            }
            workload.revision = (workload.revision ?? "current") + "-next"
            var next = simulatedSpec
            next.workload = workload
            queue = rollout.specChanged(next, now: now).actions
            if rollout.status.phase.isFinished || rollout.status.isBaseline { queue += rollout.restart(now: now).actions }
        }
        var timedOut = false
        // Whether the checks so far left it undecided: a deadline that ends a rollout whose checks were failing
        // rolled back a canary judged worse, not one that lacked the evidence.
        var undecided = true
        while now - start < timeLimit {
            // Answer what the rollout asked for at this instant, and whatever that answer leads to.
            while !queue.isEmpty {
                let action = queue.removeFirst()
                switch action {
                case .analyze(let request):
                    analyses += 1
                    let judgement = judge.judge(samples(for: request, at: now - start, using: &generator), for: request)
                    if case .inconclusive = judgement.verdict { undecided = true } else { undecided = false }
                    let actions = rollout.analysisCompleted(judgement, now: now).actions
                    if undecided, actions.contains(.phaseChanged(to: .rollingBack)) { timedOut = true }
                    queue += actions
                case .runWebhooks(let run):
                    // Gates open and hooks pass; a rollback hook passing would mean "roll back", so it says no.
                    let result: WebhookResult = run.type == .rollback ? .failed(reason: "no rollback asked for") : .passed
                    queue += rollout.webhookCompleted(ticket: run.ticket, result: result, now: now).actions
                case .checkWorkload(let check):
                    queue += rollout.workloadChecked(ticket: check.ticket, ready: true, reason: "", now: now).actions
                case .promoteWorkload(let promotion):
                    queue += rollout.primaryUpdated(ticket: promotion.ticket, ready: true, reason: "", now: now).actions
                case .finished(let phase):
                    return Outcome(phase: phase, elapsed: now - start, analyses: analyses, timedOut: timedOut)
                case .setWeights, .notifyWebhooks, .sendAlerts, .scaleWorkload, .sendLoad, .stopLoad, .record, .phaseChanged:
                    break
                }
            }
            // A person runs `serin promote` as soon as a `pause: promote` step waits for it.
            if rollout.isWaitingForPromote {
                queue = rollout.promote(now: now).actions
                continue
            }
            // On to the next moment the rollout has something to do.
            let due = rollout.status.nextCheckAt.map { max($0, now + .seconds(1)) } ?? now + .seconds(1)
            now = due
            queue = rollout.tick(now: now).actions
            if queue.contains(.phaseChanged(to: .rollingBack)) && undecided { timedOut = true }
        }
        return Outcome(phase: nil, elapsed: now - start, analyses: analyses)
    }

    /// How `trials` releases went, seeds `seed`, `seed + 1`, ...
    public func run(trials: Int, seed: UInt64) throws(CanarySpecError) -> Summary {
        var outcomes: [Outcome] = []
        for trial in 0..<trials { outcomes.append(try run(seed: seed &+ UInt64(trial))) }
        var summary = Summary(outcomes)
        summary.notSimulated = notSimulated.isEmpty ? nil : notSimulated
        return summary
    }

    /// The metrics the simulation leaves out, each with why: a MetricTemplate's query runs on its Prometheus, against
    /// series synthetic traffic does not make, so it has no value here. Judged as "no values found" it would hold
    /// every step until the deadline rolled the release back, whatever the traffic; left out, the other checks decide.
    public var notSimulated: [Summary.NotSimulated] {
        spec.analysis.metrics.compactMap { metric in
            guard case .custom(let template) = metric.kind else { return nil }
            return .init(
                metric: metric.name, template: template,
                reason: "MetricTemplate \(template)'s query runs on Prometheus, and synthetic traffic gives it no value: "
                    + "the simulated checks leave it out, as if it always passed")
        }
    }

    /// The spec the releases run: the Canary's own, without the metrics no synthetic traffic answers, and not suspended
    /// (`spec.suspend` holds a release, which would never end; what is tried is the release it would run once lifted).
    var simulatedSpec: CanarySpec {
        var simulated = spec
        simulated.suspend = false
        simulated.analysis.metrics.removeAll { metric in
            if case .custom = metric.kind { return true }
            return false
        }
        return simulated
    }

    /// Each check's reading over its own window ending `elapsed` after the start, at the request's weight; custom
    /// queries have no simulated value (and are not asked for: `simulatedSpec` leaves them out).
    func samples(for request: AnalysisRequest, at elapsed: Duration, using generator: inout SplitMix64) -> AnalysisSamples {
        var samples = AnalysisSamples()
        // Checks over the same window read the same requests, as they would from one gateway or Prometheus.
        var byWindow: [Duration: MetricReading] = [:]
        // A mirrored canary is judged on the copies of its share of requests, as the gateway counts them; stable still
        // answers every request.
        let canaryShare = request.canaryMirrored ? spec.analysis.mirror?.value ?? 0 : Double(request.canaryWeight)
        for check in request.metrics {
            switch check.kind {
            case .requestSuccessRate, .requestDuration:
                let reading = byWindow[check.interval] ?? .traffic(
                    canary: traffic.sample(.canary, percent: canaryShare, window: check.interval, endingAt: elapsed, using: &generator),
                    stable: traffic.sample(.stable, percent: Double(100 - request.canaryWeight), window: check.interval, endingAt: elapsed, using: &generator))
                byWindow[check.interval] = reading
                samples[metric: check.name] = reading
            case .custom:
                samples[metric: check.name] = .value(nil, window: check.interval)
            }
        }
        return samples
    }
}

extension RolloutSimulation {
    /// Many releases in numbers: how often each ending came, and how long decisions took.
    public struct Summary: Sendable, Equatable, Codable {
        public var trials: Int
        public var promoted: Int
        public var rolledBack: Int
        public var undecided: Int
        /// Of the rollbacks, those for want of evidence in time (the progress deadline or `maxStepDuration`),
        /// not because the canary was judged worse.
        public var rolledBackUndecided: Int
        /// Seconds from start to promotion or rollback, over the releases that finished.
        public var secondsToDecision: Percentiles?
        /// The Canary's metrics the releases were run without, and why; nil when every metric was simulated.
        public var notSimulated: [NotSimulated]?

        /// A metric left out of the simulated checks.
        public struct NotSimulated: Sendable, Equatable, Codable {
            /// The metric's name in the Canary.
            public var metric: String
            /// The MetricTemplate its `templateRef` names.
            public var template: String
            public var reason: String
        }

        public struct Percentiles: Sendable, Equatable, Codable {
            public var p50: Double
            public var p90: Double
        }

        public init(_ outcomes: [Outcome]) {
            trials = outcomes.count
            promoted = outcomes.count { $0.phase == .succeeded }
            rolledBack = outcomes.count { $0.phase == .failed }
            undecided = trials - promoted - rolledBack
            rolledBackUndecided = outcomes.count { $0.phase == .failed && $0.timedOut }
            let decided = outcomes.filter { $0.phase != nil }.map { Double($0.elapsed.components.seconds) }.sorted()
            secondsToDecision = decided.isEmpty ? nil : Percentiles(p50: Self.percentile(0.5, of: decided), p90: Self.percentile(0.9, of: decided))
        }

        /// The nearest-rank percentile of sorted values.
        static func percentile(_ fraction: Double, of sorted: [Double]) -> Double {
            sorted[max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
        }
    }
}
