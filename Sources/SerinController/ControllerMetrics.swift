import CoreMetrics
import SerinCore

/// The controller's metric families, with the HELP text an exposition gives each.
public enum ControllerMetricFamily: String, CaseIterable, Sendable {
    case weight = "serin_canary_weight"
    case phase = "serin_canary_phase"
    case failedChecks = "serin_canary_failed_checks"
    case analyses = "serin_canary_analysis_total"
    case analysisDuration = "serin_canary_analysis_duration_seconds"

    public var help: String {
        switch self {
        case .weight: "Percent of traffic on the canary."
        case .phase: "1 for the phase the rollout is in, 0 for the others."
        case .failedChecks: "Failed checks counted towards the rollback threshold."
        case .analyses: "Analyses by verdict since Serin started."
        case .analysisDuration: "Time spent collecting metrics for analyses."
        }
    }
}

/// The controller's own metrics, recorded through swift-metrics as rollouts change: where each Canary's rollout
/// stands (weight, phase, failed checks) and how its analyses went (verdicts, time spent collecting readings).
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
        /// What the gauges show now, so an unchanged rollout records nothing.
        var shown: (phase: RolloutPhase, canaryWeight: Int, failedChecks: Int)?

        init(_ name: ResourceName, factory: any MetricsFactory) {
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
        }

        func destroy() {
            weight.destroy()
            for gauge in phases.values { gauge.destroy() }
            failedChecks.destroy()
            for counter in verdicts.values { counter.destroy() }
            analysisDuration.destroy()
        }
    }

    private let factory: any MetricsFactory
    private var series: [ResourceName: Series] = [:]

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Shows where `rollout` stands; records only what changed.
    mutating func observe(_ rollout: Rollout) {
        let name = rollout.spec.name
        let status = rollout.status
        var canary = series[name] ?? Series(name, factory: factory)
        let now = (phase: status.phase, canaryWeight: status.canaryWeight, failedChecks: status.failedChecks)
        if let shown = canary.shown, shown == now { return }
        canary.weight.record(now.canaryWeight)
        canary.failedChecks.record(now.failedChecks)
        if canary.shown?.phase != now.phase {
            for (phase, gauge) in canary.phases { gauge.record(phase == now.phase ? 1 : 0) }
        }
        canary.shown = now
        series[name] = canary
    }

    /// Counts one analysis of `name` by its verdict, and the time its readings took when known.
    mutating func analysed(_ name: ResourceName, verdict: Verdict, took duration: Duration?) {
        let canary = series[name] ?? Series(name, factory: factory)
        series[name] = canary
        let result = switch verdict {
        case .pass: "pass"
        case .fail: "fail"
        case .inconclusive: "inconclusive"
        }
        canary.verdicts[result]?.increment()
        if let duration {
            let (seconds, attoseconds) = duration.components
            canary.analysisDuration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    /// Removes a deleted Canary's series.
    mutating func forget(_ name: ResourceName) {
        series.removeValue(forKey: name)?.destroy()
    }
}
