import ArgumentParser
import Foundation
import SerinCore
import SerinManifests
import SerinServer
import SerinStore
import SerinSystem

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
            (--stable-latency-ms, --canary-latency-ms). Webhooks pass and workloads are ready at once. A metric \
            with a templateRef (a MetricTemplate's Prometheus query) has no simulated value: it is left out of the \
            checks, as if it always passed, and the output says so (notSimulated in JSON). Its MetricTemplate must \
            still be in the files.

            --replay FILE replays a recorded release instead: FILE is a Canary's history (serin history NAME -o \
            json, or - for standard input), and its last release's request rate, error rates and p99 latencies, \
            measurement by measurement, become the traffic (after the last measurement it stays as it was then). \
            The weights come from the Canary given with -f, not from the record: would this Canary have caught \
            that release? --replay takes the place of --rps and the error-rate and latency flags.

            Prints how many of --trials releases were promoted, rolled back or still undecided after a day, and \
            the median and 90th percentile time to a decision. The same --seed gives the same releases.
            Example: serin simulate -f examples/canary/web-canary.yaml --canary-error-rate 0.05 -o json
            Example: serin history web -o json > web.json; serin simulate -f stricter-canary.yaml --replay web.json
            """
    )

    @OptionGroup var manifests: ManifestOptions

    @Argument(help: "The Canary's name (NAME or NAMESPACE/NAME), when the files hold more than one.")
    var name: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Requests a second to the service, both versions together (default: 100).", valueName: "n"))
    var rps: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("The stable's share of failed requests (0.001 = 0.1%; default: 0.001).", valueName: "fraction"))
    var stableErrorRate: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("The canary's share of failed requests (default: the stable's).", valueName: "fraction"))
    var canaryErrorRate: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("The stable's median request duration (default: 20).", valueName: "ms"))
    var stableLatencyMs: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("The canary's median request duration (default: the stable's).", valueName: "ms"))
    var canaryLatencyMs: Double?

    @Option(help: ArgumentHelp(
        "Replay a recorded release: a Canary's history (serin history NAME -o json), or - for standard input.", valueName: "file"))
    var replay: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("How many releases to simulate.", valueName: "n"))
    var trials: Int = 1_000

    @Option(parsing: .unconditional, help: ArgumentHelp("The first release's random seed; release i uses seed + i.", valueName: "n"))
    var seed: UInt64 = 1

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    /// What the traffic is without a flag for it.
    static let defaultTraffic = SimulatedTraffic.Version(errorRate: 0.001, medianMilliseconds: 20)
    static let defaultRequestsPerSecond = 100.0

    func validate() throws {
        if let name { try CanaryReference.check(name) }
        let trafficFlags = [
            ("--rps", rps), ("--stable-error-rate", stableErrorRate), ("--canary-error-rate", canaryErrorRate),
            ("--stable-latency-ms", stableLatencyMs), ("--canary-latency-ms", canaryLatencyMs),
        ]
        if replay != nil, let given = trafficFlags.first(where: { $0.1 != nil }) {
            throw ValidationError("--replay and \(given.0) cannot be used together: the replayed release gives the traffic")
        }
        if let rps, !(rps > 0) { throw ValidationError("--rps must be above 0, got \(rps)") }
        for case let (flag, rate?) in [("--stable-error-rate", stableErrorRate), ("--canary-error-rate", canaryErrorRate)] where !(0...1).contains(rate) {
            throw ValidationError("\(flag) is a fraction between 0 and 1 (0.05 = 5%), got \(rate)")
        }
        for case let (flag, ms?) in [("--stable-latency-ms", stableLatencyMs), ("--canary-latency-ms", canaryLatencyMs)] where !(ms > 0) {
            throw ValidationError("\(flag) must be above 0, got \(ms)")
        }
        if !(1...1_000_000).contains(trials) { throw ValidationError("--trials must be between 1 and 1000000, got \(trials)") }
    }

    func run() throws {
        // The Canary alone is enough: its VirtualService and Services need not be in the files. Given beside them,
        // it is checked against them as `serin validate` would (a targetRef with a typo is not simulated).
        let loaded = ManifestLoader.load(paths: manifests.files, recursive: manifests.recursive)
        let decoded = ManifestDecoder.decode(loaded.sources)
        for diagnostic in loaded.diagnostics + decoded.diagnostics { Terminal.err(diagnostic.description) }
        if (loaded.diagnostics + decoded.diagnostics).containsErrors { throw ExitCode(1) }
        let (chosen, spec) = try canary(in: decoded.resources)
        // A templateRef naming no MetricTemplate in the files is the error `serin validate` reports, at the templateRef.
        let templateProblems = ManifestValidator.metricTemplateReferences(of: [chosen], among: decoded.resources)
        for diagnostic in templateProblems { Terminal.err(diagnostic.description) }
        if templateProblems.containsErrors { throw ExitCode(1) }
        let givesRoutes = decoded.resources.contains { if case .virtualService = $0.resource { true } else { false } }
        if givesRoutes {
            let referenceProblems = ManifestValidator.canaryReferences(of: [chosen], among: decoded.resources)
            for diagnostic in referenceProblems { Terminal.err(diagnostic.description) }
            if !referenceProblems.isEmpty { throw ExitCode(1) }
        }
        let replayed = try replay.map(Self.readReplay)
        let traffic = replayed?.traffic ?? syntheticTraffic
        let summary: RolloutSimulation.Summary
        do {
            summary = try RolloutSimulation(spec: spec, traffic: traffic).run(trials: trials, seed: seed)
        } catch {
            Terminal.err("serin simulate: Canary \(spec.name.displayName): \(error)")
            throw ExitCode(1)
        }
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Terminal.out(String(decoding: try encoder.encode(summary), as: UTF8.self))
        case .table:
            if let replay, let replayed {
                let segments = replayed.traffic.segments.count
                Terminal.out("replaying release \(replayed.release) of \(Self.name(ofReplay: replay)): "
                    + "\(Self.duration(Double(replayed.recorded.components.seconds))) of recorded traffic, \(segments) segment\(segments == 1 ? "" : "s")")
            }
            Terminal.out(Self.describe(summary, of: spec))
        }
    }

    /// The constant traffic the flags describe.
    var syntheticTraffic: SimulatedTraffic {
        let stable = SimulatedTraffic.Version(
            errorRate: stableErrorRate ?? Self.defaultTraffic.errorRate, medianMilliseconds: stableLatencyMs ?? Self.defaultTraffic.medianMilliseconds)
        return SimulatedTraffic(
            requestsPerSecond: rps ?? Self.defaultRequestsPerSecond, stable: stable,
            canary: .init(errorRate: canaryErrorRate ?? stable.errorRate, medianMilliseconds: canaryLatencyMs ?? stable.medianMilliseconds))
    }

    /// The history at `path` (`-`: standard input) as traffic; what is wrong with it on standard error.
    static func readReplay(_ path: String) throws -> HistoryReplay {
        let name = name(ofReplay: path)
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard FileManager.default.fileExists(atPath: path) else {
                Terminal.err("serin simulate: --replay \(path): no such file; expected the output of serin history NAME -o json")
                throw ExitCode(1)
            }
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                Terminal.err("serin simulate: --replay \(path): cannot read it: \(FileErrorText.reason(error))")
                throw ExitCode(1)
            }
        }
        // An empty pipe (`--replay -` with nothing sent) or file: said as such, not as JSON that does not parse.
        guard !String(decoding: data, as: UTF8.self).allSatisfy(\.isWhitespace) else {
            Terminal.err("serin simulate: --replay \(name) is empty; expected the output of serin history NAME -o json")
            throw ExitCode(1)
        }
        do {
            let history = try JSONDecoder().decode(CanaryHistory.self, from: data)
            return try HistoryReplay(history, source: name, defaultLatency: defaultTraffic)
        } catch let failure as HistoryReplay.Failure {
            Terminal.err("serin simulate: --replay: \(failure)")
            throw ExitCode(1)
        } catch {
            Terminal.err("serin simulate: --replay \(name) is not a Canary's history (serin history NAME -o json): \(error.readableDecodingFailure)")
            throw ExitCode(1)
        }
    }

    static func name(ofReplay path: String) -> String {
        path == "-" ? "standard input" : path
    }

    /// The one Canary to run: named (NAME, or NAMESPACE/NAME as `serin status` takes it), or the only one in the files.
    /// Several that answer to the name are refused, each listed with where it is, with the way to pick one.
    func canary(in resources: [LocatedResource]) throws -> (LocatedResource, CanarySpec) {
        let canaries = resources.compactMap { located -> (LocatedResource, CanarySpec)? in
            guard case .canary(let spec) = located.resource else { return nil }
            return (located, spec)
        }
        let candidates = name.map { name in
            canaries.filter { name.contains("/") ? $0.1.name.description == name : $0.1.name.name == name }
        } ?? canaries
        if candidates.count == 1 { return candidates[0] }
        if let name, candidates.isEmpty {
            Terminal.err("serin simulate: no Canary named \(name) in the files; they hold: \(Self.listed(canaries))")
        } else if canaries.isEmpty {
            Terminal.err("serin simulate: the files hold no Canary; give one with -f (for example: -f examples/canary/web-canary.yaml)")
        } else {
            let which = name.map { "\(candidates.count) Canaries in the files are named \($0)" } ?? "the files hold \(candidates.count) Canaries"
            Terminal.err("serin simulate: \(which): \(Self.listed(candidates)); \(Self.howToPick(candidates))")
        }
        throw ExitCode(1)
    }

    /// `shop/web (shop.yaml:1:1), default/web (web-canary.yaml:28:1)`, or `none`.
    static func listed(_ canaries: [(LocatedResource, CanarySpec)]) -> String {
        canaries.isEmpty ? "none" : canaries.map { "\($0.1.name) (\($0.0.location))" }.joined(separator: ", ")
    }

    /// Name one as NAMESPACE/NAME; where two share that too, only their files tell them apart.
    static func howToPick(_ candidates: [(LocatedResource, CanarySpec)]) -> String {
        let names = candidates.map(\.1.name)
        let byName = "name one as NAMESPACE/NAME (for example: serin simulate -f ... \(names[0]))"
        guard Set(names).count == names.count else {
            let byFile = "give only the file of the one to simulate with -f (for example: serin simulate -f \(candidates[0].0.location.file))"
            return Set(names).count == 1 ? "they share their namespace and name, so \(byFile)" : "\(byName); where two share both, \(byFile)"
        }
        return byName
    }

    static func describe(_ summary: RolloutSimulation.Summary, of spec: CanarySpec) -> String {
        let share = { (count: Int) in String(format: "%d (%.1f%%)", count, Double(count) / Double(summary.trials) * 100) }
        var lines = [
            "\(spec.name.displayName): \(summary.trials) simulated releases",
            "  promoted:    \(share(summary.promoted))",
            "  rolled back: \(share(summary.rolledBack))"
                + (summary.rolledBackUndecided > 0
                    ? ", \(summary.rolledBackUndecided) of them undecided: not enough traffic to decide before the deadline" : ""),
            "  undecided:   \(share(summary.undecided)), still running after a day",
        ]
        // Said before the numbers they shaped.
        let left = (summary.notSimulated ?? []).map { "  not simulated: metric \($0.metric): \($0.reason)" }
        lines.insert(contentsOf: left, at: 1)
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
