import CoreMetrics
import SerinCore

/// The controller's metric families, with the HELP text an exposition gives each: Serin's own, and Flagger's under
/// Flagger's names and labels, so a Flagger user's dashboards and alerts (`flagger_canary_status == 2`) read Serin.
public enum ControllerMetricFamily: String, CaseIterable, Sendable {
    case weight = "serin_canary_weight"
    case phase = "serin_canary_phase"
    case failedChecks = "serin_canary_failed_checks"
    case analyses = "serin_canary_analysis_total"
    case analysisDuration = "serin_canary_analysis_duration_seconds"
    case flaggerTotal = "flagger_canary_total"
    case flaggerStatus = "flagger_canary_status"
    case flaggerWeight = "flagger_canary_weight"
    case flaggerMetricAnalysis = "flagger_canary_metric_analysis"
    case flaggerDuration = "flagger_canary_duration_seconds"
    case flaggerSuccesses = "flagger_canary_successes_total"
    case flaggerFailures = "flagger_canary_failures_total"
    case flaggerInfo = "flagger_info"
    case stateSaveFailures = "serin_state_save_failures_total"

    public var help: String {
        switch self {
        case .weight: "Percent of traffic on the canary."
        case .phase: "1 for the phase the rollout is in, 0 for the others."
        case .failedChecks: "Failed checks counted towards the rollback threshold."
        case .analyses: "Analyses by verdict since Serin started."
        case .analysisDuration: "Time spent collecting metrics for analyses."
        case .flaggerTotal: "Canaries in the namespace (Flagger's family)."
        case .flaggerStatus: "0 while the rollout runs, 1 when it succeeded or waits for a release, 2 when it failed (Flagger's family)."
        case .flaggerWeight: "Percent of traffic on the workload: NAME-primary the stable, NAME the canary (Flagger's family)."
        case .flaggerMetricAnalysis: "The canary's last value of each metric (Flagger's family)."
        case .flaggerDuration: "Time spent collecting metrics for analyses (Flagger's family)."
        case .flaggerSuccesses: "Releases promoted since Serin started (Flagger's family)."
        case .flaggerFailures: "Releases rolled back since Serin started (Flagger's family)."
        case .flaggerInfo: "1, labelled with the controller's version and the mesh it drives, istio (Flagger's family)."
        case .stateSaveFailures: "Steps whose rollout state could not be saved (the state file unwritable, its disk full): a restart resumes from the last saved."
        }
    }
}

/// The controller's own metrics, recorded through swift-metrics as rollouts change: where each Canary's rollout
/// stands (weight, phase, failed checks) and how its analyses went (verdicts, time spent collecting readings), in
/// Serin's families and in Flagger's.
///
/// The factory decides where they go: `serin up` and `serin controller` hand in one that `/metrics` exposes in
/// Prometheus's text format; a process that bootstraps swift-metrics itself gets them in its own backend. A
/// Canary's series go when the Canary does.
struct ControllerMetrics {
    /// One Canary's handles, made once: a factory may look a series up by name and labels on every make.
    private struct Series {
        let weight: Gauge
        let phases: [RolloutPhase: Gauge]
        let failedChecks: Gauge
        let verdicts: [String: Counter]
        let analysisDuration: Timer
        let flagger: FlaggerSeries
        /// What the gauges show now, so an unchanged rollout records nothing.
        var shown: (phase: RolloutPhase, canaryWeight: Int, failedChecks: Int)?

        init(_ rollout: Rollout, factory: any MetricsFactory) {
            let name = rollout.spec.name
            let labels = [("name", name.name), ("namespace", name.namespace)]
            weight = Gauge(label: ControllerMetricFamily.weight.rawValue, dimensions: labels, factory: factory)
            phases = Dictionary(uniqueKeysWithValues: RolloutPhase.allCases.map {
                ($0, Gauge(label: ControllerMetricFamily.phase.rawValue, dimensions: labels + [("phase", $0.rawValue)], factory: factory))
            })
            failedChecks = Gauge(label: ControllerMetricFamily.failedChecks.rawValue, dimensions: labels, factory: factory)
            verdicts = Dictionary(uniqueKeysWithValues: ["pass", "fail", "inconclusive"].map {
                ($0, Counter(label: ControllerMetricFamily.analyses.rawValue, dimensions: labels + [("result", $0)], factory: factory))
            })
            analysisDuration = Timer(label: ControllerMetricFamily.analysisDuration.rawValue, dimensions: labels, factory: factory)
            flagger = FlaggerSeries(rollout.spec, factory: factory)
        }

        func destroy() {
            weight.destroy()
            for gauge in phases.values { gauge.destroy() }
            failedChecks.destroy()
            for counter in verdicts.values { counter.destroy() }
            analysisDuration.destroy()
            flagger.destroy()
        }
    }

    /// One Canary's series under Flagger's names. Flagger labels them with its `targetRef`'s name, the Deployment
    /// (`podinfo`, `podinfo-primary`): a Canary of Flagger's shape is labelled so; one of Serin's shape, whose
    /// `targetRef` is a VirtualService, by its own name.
    private final class FlaggerSeries {
        let status: Gauge
        let primaryWeight: Gauge
        let canaryWeight: Gauge
        let duration: Timer
        let successes: Counter
        let failures: Counter
        private let labels: [(String, String)]
        private let factory: any MetricsFactory
        private var analyses: [String: Gauge] = [:]

        init(_ spec: CanarySpec, factory: any MetricsFactory) {
            let target = spec.workload?.deployment ?? spec.name.name
            let namespace = spec.name.namespace
            labels = [("name", target), ("namespace", namespace)]
            self.factory = factory
            status = Gauge(label: ControllerMetricFamily.flaggerStatus.rawValue, dimensions: labels, factory: factory)
            primaryWeight = Gauge(
                label: ControllerMetricFamily.flaggerWeight.rawValue, dimensions: [("workload", "\(target)-primary"), ("namespace", namespace)], factory: factory)
            canaryWeight = Gauge(label: ControllerMetricFamily.flaggerWeight.rawValue, dimensions: [("workload", target), ("namespace", namespace)], factory: factory)
            duration = Timer(label: ControllerMetricFamily.flaggerDuration.rawValue, dimensions: labels, factory: factory)
            // Flagger's strategy and whether the analysis ran, as its counters label a release.
            let analysis = spec.analysis
            let strategy = analysis.isABTesting ? "ab-testing" : analysis.schedule.isBlueGreen ? "blue-green" : "canary"
            let outcome = labels + [("deployment_strategy", strategy), ("analysis_status", spec.skipAnalysis ? "skipped" : "completed")]
            successes = Counter(label: ControllerMetricFamily.flaggerSuccesses.rawValue, dimensions: outcome, factory: factory)
            failures = Counter(label: ControllerMetricFamily.flaggerFailures.rawValue, dimensions: outcome, factory: factory)
        }

        /// Flagger's status number: 0 running, 2 failed, 1 otherwise (promoted, or waiting for a release).
        static func status(of phase: RolloutPhase) -> Int {
            switch phase {
            case .progressing, .paused: 0
            case .failed, .rollingBack: 2
            case .initialized, .promoting, .succeeded: 1
            }
        }

        func measured(_ metric: String, _ value: Double) {
            let gauge = analyses[metric] ?? Gauge(
                label: ControllerMetricFamily.flaggerMetricAnalysis.rawValue, dimensions: labels + [("metric", metric)], factory: factory)
            analyses[metric] = gauge
            gauge.record(value)
        }

        func destroy() {
            for gauge in [status, primaryWeight, canaryWeight] + Array(analyses.values) { gauge.destroy() }
            duration.destroy()
            successes.destroy()
            failures.destroy()
        }
    }

    private let factory: any MetricsFactory
    private var series: [ResourceName: Series] = [:]
    /// `flagger_canary_total` by namespace; a namespace whose Canaries all went shows 0, as Flagger's does.
    private var totals: [String: Gauge] = [:]

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Shows where `rollout` stands; records only what changed. A release that ends while watched (not one restored
    /// already ended) counts towards Flagger's successes or failures.
    mutating func observe(_ rollout: Rollout) {
        let name = rollout.spec.name
        let status = rollout.status
        var canary = series[name] ?? Series(rollout, factory: factory)
        let now = (phase: status.phase, canaryWeight: status.canaryWeight, failedChecks: status.failedChecks)
        if let shown = canary.shown, shown == now { return }
        canary.weight.record(now.canaryWeight)
        canary.failedChecks.record(now.failedChecks)
        // Flagger's family after a promotion says what Flagger's does, and what status says: the version that serves is
        // the primary, at 100, from the moment the promoted canary takes all traffic (in Serin's own routes, and in
        // serin_canary_weight, it is the promoted canary's destination that carries it).
        canary.flagger.primaryWeight.record(100 - status.canaryWeightShown)
        canary.flagger.canaryWeight.record(status.canaryWeightShown)
        if canary.shown?.phase != now.phase {
            for (phase, gauge) in canary.phases { gauge.record(phase == now.phase ? 1 : 0) }
            canary.flagger.status.record(FlaggerSeries.status(of: now.phase))
            if let before = canary.shown?.phase, before != .succeeded, before != .failed {
                if now.phase == .succeeded { canary.flagger.successes.increment() }
                if now.phase == .failed { canary.flagger.failures.increment() }
            }
        }
        canary.shown = now
        series[name] = canary
    }

    /// Counts one analysis of `rollout` by its verdict, the time its readings took when known, and the canary's
    /// value of each metric measured.
    mutating func analysed(_ rollout: Rollout, verdict: Verdict, took duration: Duration?, measurements: [RecordedMeasurement]) {
        let name = rollout.spec.name
        let canary = series[name] ?? Series(rollout, factory: factory)
        series[name] = canary
        let result = switch verdict {
        case .pass: "pass"
        case .fail: "fail"
        case .inconclusive: "inconclusive"
        }
        canary.verdicts[result]?.increment()
        if let duration {
            let (seconds, attoseconds) = duration.components
            let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            canary.analysisDuration.recordNanoseconds(nanoseconds)
            canary.flagger.duration.recordNanoseconds(nanoseconds)
        }
        // Flagger's gauge holds the built-in request-duration in seconds (its checks and Serin's read milliseconds);
        // a template's value as its query returned it.
        let durations = Set(rollout.spec.analysis.metrics.filter { $0.kind == .requestDuration }.map(\.name))
        for measurement in measurements {
            guard let value = measurement.canaryValue else { continue }
            canary.flagger.measured(measurement.metric, durations.contains(measurement.metric) ? value / 1000 : value)
        }
    }

    /// Shows how many Canaries each namespace holds.
    mutating func count(_ names: some Collection<ResourceName>) {
        var counts = Dictionary(names.map { ($0.namespace, 1) }, uniquingKeysWith: +)
        for namespace in totals.keys where counts[namespace] == nil { counts[namespace] = 0 }
        for (namespace, count) in counts {
            let gauge = totals[namespace] ?? Gauge(label: ControllerMetricFamily.flaggerTotal.rawValue, dimensions: [("namespace", namespace)], factory: factory)
            totals[namespace] = gauge
            gauge.record(count)
        }
    }

    /// Removes a deleted Canary's series.
    mutating func forget(_ name: ResourceName) {
        series.removeValue(forKey: name)?.destroy()
    }
}
