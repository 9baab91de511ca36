import CoreMetrics
import Foundation
import SerinController
import SerinCore
import SerinServer
import SerinSpawn
import SerinTesting
import Testing

/// The controller's `/metrics`, as swift-prometheus writes what the controller records through swift-metrics: every
/// family's samples together after its HELP and TYPE, with two Canaries in the set (the text format forbids one
/// family's lines among another's), and clean for Prometheus's own checker.
@Suite("Controller metrics registry")
struct ControllerMetricsRegistryTests {
    static let promtool = "/usr/bin/promtool"

    /// Two Canaries' series, recorded in turn as two rollouts would, one sample of each family apiece.
    static func exposition() -> String {
        let registry = ControllerMetricsRegistry()
        for (name, namespace) in [("web", "default"), ("cart", "shop")] {
            let labels = [("name", name), ("namespace", namespace)]
            Gauge(label: ControllerMetricFamily.weight.rawValue, dimensions: labels, factory: registry.factory).record(20)
            for phase in RolloutPhase.allCases {
                Gauge(label: ControllerMetricFamily.phase.rawValue, dimensions: labels + [("phase", phase.rawValue)], factory: registry.factory)
                    .record(phase == .progressing ? 1 : 0)
            }
            Gauge(label: ControllerMetricFamily.failedChecks.rawValue, dimensions: labels, factory: registry.factory).record(1)
            Counter(label: ControllerMetricFamily.analyses.rawValue, dimensions: labels + [("result", "pass")], factory: registry.factory)
                .increment()
            Timer(label: ControllerMetricFamily.analysisDuration.rawValue, dimensions: labels, factory: registry.factory)
                .recordMilliseconds(40)
            // Flagger's families, as the controller records them beside Serin's.
            Gauge(label: ControllerMetricFamily.flaggerTotal.rawValue, dimensions: [("namespace", namespace)], factory: registry.factory).record(1)
            Gauge(label: ControllerMetricFamily.flaggerStatus.rawValue, dimensions: labels, factory: registry.factory).record(0)
            for (workload, weight) in [("\(name)-primary", 80), (name, 20)] {
                Gauge(label: ControllerMetricFamily.flaggerWeight.rawValue, dimensions: [("workload", workload), ("namespace", namespace)], factory: registry.factory)
                    .record(weight)
            }
            Gauge(label: ControllerMetricFamily.flaggerMetricAnalysis.rawValue, dimensions: labels + [("metric", "request-success-rate")], factory: registry.factory)
                .record(99.5)
            Timer(label: ControllerMetricFamily.flaggerDuration.rawValue, dimensions: labels, factory: registry.factory).recordMilliseconds(40)
            let release = labels + [("deployment_strategy", "canary"), ("analysis_status", "completed")]
            Counter(label: ControllerMetricFamily.flaggerSuccesses.rawValue, dimensions: release, factory: registry.factory).increment()
            Counter(label: ControllerMetricFamily.flaggerFailures.rawValue, dimensions: release, factory: registry.factory).increment()
        }
        // The process's own: one series, whatever the Canaries.
        Counter(label: ControllerMetricFamily.stateSaveFailures.rawValue, factory: registry.factory).increment()
        return registry.exposition()
    }

    @Test("every family has its HELP and TYPE, and the samples say what was recorded")
    func familiesAreDescribed() {
        let text = Self.exposition()
        for family in ControllerMetricFamily.allCases {
            #expect(text.contains("# HELP \(family.rawValue) \(family.help)\n"), "\(family.rawValue):\n\(text)")
        }
        #expect(text.contains("# TYPE serin_canary_analysis_duration_seconds histogram"))
        #expect(text.contains(#"serin_canary_weight{name="cart",namespace="shop"} 20"#), "\(text)")
        // Set once at start, as Flagger sets it: a Flagger dashboard's version panel reads it.
        #expect(text.contains(#"flagger_info{version="\#(SerinVersion.number)",mesh_provider="istio"} 1"#), "\(text)")
        #expect(text.contains(#"serin_canary_phase{name="web",namespace="default",phase="Progressing"} 1"#), "\(text)")
        #expect(text.contains(#"serin_canary_analysis_duration_seconds_bucket{name="web",namespace="default",le="0.05"} 1"#), "\(text)")
        #expect(text.contains("# TYPE flagger_canary_duration_seconds histogram"))
        #expect(text.contains(#"flagger_canary_weight{workload="cart-primary",namespace="shop"} 80"#), "\(text)")
        #expect(text.contains(#"flagger_canary_successes_total{name="web",namespace="default",deployment_strategy="canary",analysis_status="completed"} 1"#), "\(text)")
        #expect(text.contains("# TYPE serin_state_save_failures_total counter\nserin_state_save_failures_total 1\n"), "\(text)")
    }

    @Test("each metric family's lines come together, after its HELP and TYPE")
    func familiesAreNotInterleaved() {
        let text = Self.exposition()
        var seen: [String] = []
        for line in text.split(separator: "\n") {
            let family: String
            if line.hasPrefix("# ") {
                family = String(line.split(separator: " ")[2])
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                family = ["_sum", "_count", "_bucket"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
            }
            if seen.last != family {
                #expect(!seen.contains(family), "\(family) comes back after \(seen.last ?? ""):\n\(text)")
                seen.append(family)
            }
        }
        #expect(seen.count == ControllerMetricFamily.allCases.count, "\(seen)")
    }

    @Test(
        "promtool check metrics finds nothing wrong with the controller's families but the _total of Flagger's gauge",
        .enabled(if: FileManager.default.isExecutableFile(atPath: promtool) || ProcessInfo.processInfo.environment["CI"] == "true",
                 "promtool is not installed here (apt-get install prometheus); CI runs this")
    )
    func promtoolIsClean() throws {
        let text = Self.exposition()
        let directory = try SerinProcess.temporaryDirectory()
        let input = directory.appendingPathComponent("metrics.txt")
        let output = directory.appendingPathComponent("promtool.txt")
        try Data(text.utf8).write(to: input)
        #expect(FileManager.default.createFile(atPath: output.path, contents: nil))
        let stdin = open(input.path, O_RDONLY)
        let stdout = open(output.path, O_WRONLY)
        defer { close(stdin); close(stdout) }
        let process = try ChildProcess.spawn(
            Self.promtool, arguments: ["check", "metrics"], stdin: .descriptor(stdin), stdout: .descriptor(stdout), stderr: .descriptor(stdout))
        let exit = process.waitUntilExit()
        let said = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        // Flagger names a gauge flagger_canary_total, and its dashboards and alerts query that name: promtool's lint
        // against a gauge's `_total` suffix is the one finding allowed (exit status 3, lint findings only).
        let allowed = #"flagger_canary_total non-counter metrics should not have "_total" suffix"#
        let findings = said.split(separator: "\n").filter { $0 != allowed }
        #expect(exit == .exited(0) || (exit == .exited(3) && said.contains(allowed)), "promtool: \(said)\n\(text)")
        #expect(findings.isEmpty, "promtool: \(said)")
    }
}
