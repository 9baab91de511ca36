import SerinController
import SerinCore
import SerinHTTP

/// The controller's own metrics in the Prometheus text format: where each Canary's rollout stands
/// and how its analyses went.
public enum ControllerExposition {
    public static func render(_ statuses: [CanaryStatus], tallies: [ResourceName: AnalysisTally]) -> String {
        var out = ""
        out += "# HELP serin_canary_weight Percent of traffic on the canary.\n# TYPE serin_canary_weight gauge\n"
        for status in statuses { out += "serin_canary_weight{\(labels(status))} \(status.canaryWeight)\n" }
        out += "# HELP serin_canary_phase 1 for the phase the rollout is in, 0 for the others.\n# TYPE serin_canary_phase gauge\n"
        for status in statuses {
            for phase in RolloutPhase.allCases {
                out += "serin_canary_phase{\(labels(status)),phase=\"\(phase.rawValue)\"} \(status.phase == phase ? 1 : 0)\n"
            }
        }
        out += "# HELP serin_canary_failed_checks Failed checks counted towards the rollback threshold.\n"
        out += "# TYPE serin_canary_failed_checks gauge\n"
        for status in statuses { out += "serin_canary_failed_checks{\(labels(status))} \(status.failedChecks)\n" }
        // Each family's lines together, after its HELP and TYPE: the text format allows no interleaving.
        let tallied = statuses.map { ($0, tallies[ResourceName(namespace: $0.namespace, name: $0.name)] ?? AnalysisTally()) }
        out += "# HELP serin_canary_analysis_total Analyses by verdict since Serin started.\n# TYPE serin_canary_analysis_total counter\n"
        for (status, tally) in tallied {
            for (result, count) in [("pass", tally.passed), ("fail", tally.failed), ("inconclusive", tally.inconclusive)] {
                out += "serin_canary_analysis_total{\(labels(status)),result=\"\(result)\"} \(count)\n"
            }
        }
        out += "# HELP serin_canary_analysis_duration_seconds Time spent collecting metrics for analyses.\n"
        out += "# TYPE serin_canary_analysis_duration_seconds summary\n"
        for (status, tally) in tallied {
            out += "serin_canary_analysis_duration_seconds_sum{\(labels(status))} \(tally.secondsSum)\n"
            out += "serin_canary_analysis_duration_seconds_count{\(labels(status))} \(tally.timed)\n"
        }
        return out
    }

    static func labels(_ status: CanaryStatus) -> String {
        "name=\"\(PrometheusText.escape(status.name))\",namespace=\"\(PrometheusText.escape(status.namespace))\""
    }
}
