import ArgumentParser
import Foundation
import SerinCore
import SerinManifests

/// `serin simulate`: a Canary's schedule and checks tried on synthetic traffic before they meet a real release.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a Canary's rollout many times over synthetic traffic: how often it promotes or rolls back, and how fast.",
        discussion: """
            Runs the Canary's own schedule, checks and thresholds through Serin's real rollout state machine and \
            judge, on a simulated clock and seeded synthetic traffic (no sockets, no waiting): requests arrive at \
            --rps, split by the canary weight; each version fails its share (--stable-error-rate, \
            --canary-error-rate, as fractions: 0.05 = 5%) and answers in log-normal times around its median \
            (--stable-latency-ms, --canary-latency-ms). Webhooks pass and workloads are ready at once. Custom \
            metric templates have no simulated value and read as "no values found".

            Prints how many of --trials releases were promoted, rolled back or still undecided after a day, and \
            the median and 90th percentile time to a decision. The same --seed gives the same releases.
            Example: serin simulate -f examples/canary/web-canary.yaml --canary-error-rate 0.05 -o json
            """
    )

    @OptionGroup var manifests: ManifestOptions

    @Argument(help: "The Canary's name, when the files hold more than one.")
    var name: String?

    @Option(help: ArgumentHelp("Requests a second to the service, both versions together.", valueName: "n"))
    var rps: Double = 100

    @Option(help: ArgumentHelp("The stable's share of failed requests (0.001 = 0.1%).", valueName: "fraction"))
    var stableErrorRate: Double = 0.001

    @Option(help: ArgumentHelp("The canary's share of failed requests (default: the stable's).", valueName: "fraction"))
    var canaryErrorRate: Double?

    @Option(help: ArgumentHelp("The stable's median request duration.", valueName: "ms"))
    var stableLatencyMs: Double = 20

    @Option(help: ArgumentHelp("The canary's median request duration (default: the stable's).", valueName: "ms"))
    var canaryLatencyMs: Double?

    @Option(help: ArgumentHelp("How many releases to simulate.", valueName: "n"))
    var trials: Int = 1_000

    @Option(help: ArgumentHelp("The first release's random seed; release i uses seed + i.", valueName: "n"))
    var seed: UInt64 = 1

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    func validate() throws {
        if !(rps > 0) { throw ValidationError("--rps must be above 0, got \(rps)") }
        for (flag, rate) in [("--stable-error-rate", stableErrorRate), ("--canary-error-rate", canaryErrorRate ?? 0)] where !(0...1).contains(rate) {
            throw ValidationError("\(flag) is a fraction between 0 and 1 (0.05 = 5%), got \(rate)")
        }
        for (flag, ms) in [("--stable-latency-ms", stableLatencyMs), ("--canary-latency-ms", canaryLatencyMs ?? 1)] where !(ms > 0) {
            throw ValidationError("\(flag) must be above 0, got \(ms)")
        }
        if !(1...1_000_000).contains(trials) { throw ValidationError("--trials must be between 1 and 1000000, got \(trials)") }
    }

    func run() throws {
        // The Canary alone is enough: its VirtualService and Services need not be in the files.
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        let decoded = ManifestDecoder.decode(loaded.sources)
        for diagnostic in loaded.diagnostics + decoded.diagnostics { Terminal.err(diagnostic.description) }
        if (loaded.diagnostics + decoded.diagnostics).containsErrors { throw ExitCode(1) }
        let spec = try canary(in: decoded.resources.canaries)
        let traffic = SimulatedTraffic(
            requestsPerSecond: rps,
            stable: .init(errorRate: stableErrorRate, medianMilliseconds: stableLatencyMs),
            canary: .init(errorRate: canaryErrorRate ?? stableErrorRate, medianMilliseconds: canaryLatencyMs ?? stableLatencyMs))
        let summary: RolloutSimulation.Summary
        do {
            summary = try RolloutSimulation(spec: spec, traffic: traffic).run(trials: trials, seed: seed)
        } catch {
            Terminal.err("serin simulate: Canary \(spec.name.name): \(error)")
            throw ExitCode(1)
        }
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Terminal.out(String(decoding: try encoder.encode(summary), as: UTF8.self))
        case .table:
            Terminal.out(Self.describe(summary, of: spec))
        }
    }

    /// The one Canary to run: named, or the only one in the files.
    func canary(in canaries: [CanarySpec]) throws -> CanarySpec {
        if let name {
            guard let found = canaries.first(where: { $0.name.name == name || "\($0.name.namespace)/\($0.name.name)" == name }) else {
                Terminal.err("serin simulate: no Canary named \(name) in the files; they hold: \(Self.names(canaries))")
                throw ExitCode(1)
            }
            return found
        }
        guard canaries.count == 1 else {
            Terminal.err(canaries.isEmpty
                ? "serin simulate: the files hold no Canary; give one with -f (for example: -f examples/canary/web-canary.yaml)"
                : "serin simulate: the files hold \(canaries.count) Canaries (\(Self.names(canaries))); name one")
            throw ExitCode(1)
        }
        return canaries[0]
    }

    static func names(_ canaries: [CanarySpec]) -> String {
        canaries.isEmpty ? "none" : canaries.map(\.name.name).joined(separator: ", ")
    }

    static func describe(_ summary: RolloutSimulation.Summary, of spec: CanarySpec) -> String {
        let share = { (count: Int) in String(format: "%d (%.1f%%)", count, Double(count) / Double(summary.trials) * 100) }
        var lines = [
            "\(spec.name.name): \(summary.trials) simulated releases",
            "  promoted:    \(share(summary.promoted))",
            "  rolled back: \(share(summary.rolledBack))"
                + (summary.rolledBackUndecided > 0
                    ? ", \(summary.rolledBackUndecided) of them undecided: not enough traffic to decide before the deadline" : ""),
            "  undecided:   \(share(summary.undecided)), still running after a day",
        ]
        if let times = summary.secondsToDecision {
            lines.append("  time to decision: median \(Self.duration(times.p50)), 90th percentile \(Self.duration(times.p90))")
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        return whole < 60 ? "\(whole)s" : whole % 60 == 0 ? "\(whole / 60)m" : "\(whole / 60)m\(whole % 60)s"
    }
}
