import ArgumentParser
import Foundation
import NIOHTTP1
import SerinController
import SerinCore
import SerinServer
import SerinKubernetes

/// `serin status [NAME]`: every Canary's phase, weights, step and last verdicts.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show Canaries: phase, weights, step n/m, failed checks and the last verdicts.",
        discussion: """
            From a running Serin (--server, default http://127.0.0.1:9900) or from a Kubernetes cluster's \
            Canary resources (--kubeconfig, --context or -n; -A for every namespace).
            With -w/--watch and a Canary's name, follows that Canary live from the running Serin's event stream: \
            a line with its weight bar, phase, step, both sides' request rate, success rate and p99, and the last \
            verdicts, redrawn in place on a terminal and printed anew when it changes on a pipe; it ends when the \
            rollout does (exit status 1 if it failed).
            Examples: serin status    serin status web -o json    serin status -n default    serin status web -w
            """
    )

    @Argument(help: "One Canary's name; all when omitted.")
    var name: String?

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    @Flag(name: [.customShort("A"), .long], help: "Canaries in every namespace of a cluster: --kubeconfig/--context, else $KUBECONFIG or ~/.kube/config, as kubectl.")
    var allNamespaces = false

    @Flag(name: [.customShort("w"), .long], help: "Follow one Canary live until its rollout ends.")
    var watch = false

    @OptionGroup var endpoint: CanaryEndpoint

    func validate() throws {
        if let name { try CanaryReference.check(name) }
        if watch {
            guard name != nil else { throw ValidationError("--watch follows one Canary: name it (serin status web -w)") }
            guard output == .table else { throw ValidationError("--watch draws a live line; leave out -o json") }
            guard !endpoint.cluster.isSelected else {
                throw ValidationError("--watch follows a running Serin's event stream (--server); on a cluster use kubectl get canary -w")
            }
        }
        if allNamespaces, endpoint.server.server != nil {
            throw ValidationError("-A lists the Canaries of every namespace of a Kubernetes cluster; --server lists every Canary of one Serin already, with a NAMESPACE column when any is outside default")
        }
    }

    func run() async throws {
        if watch, let name {
            let final = try await StatusWatch(client: endpoint.server.client, name: name).run(interactive: Terminal.isInteractive)
            if final.phase == .failed { throw ExitCode(1) }
            return
        }
        let statuses: [CanaryStatus]
        if let cluster = try endpoint.clusterCanaries(everyNamespace: allNamespaces) {
            statuses = try await cluster.use { try await $0.statuses(name: name, allNamespaces: allNamespaces) }
        } else if let name {
            statuses = [try await endpoint.server.client.decode(CanaryStatus.self, .GET, CanaryReference.path(name))]
        } else {
            statuses = try await endpoint.server.client.decode([CanaryStatus].self, .GET, "/canaries")
        }
        switch output {
        case .json:
            Terminal.out(try JSONText.encode(name == nil ? AnyEncodable(statuses) : AnyEncodable(statuses[0])))
        case .table:
            if statuses.isEmpty {
                Terminal.out(
                    endpoint.cluster.isSelected
                        ? "no Canaries (kubectl apply -f a Canary resource; examples/kubernetes/ has one)"
                        : "no Canaries (serin up -f ... with a Canary resource starts one)"
                )
                return
            }
            Terminal.out(StatusTable.render(statuses, namespaces: allNamespaces ? true : nil))
        }
    }
}

/// How `status` and `history` print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// The arguments of `serin promote|abort|pause|resume|rollout NAME`: a person's decision, sent to the controller.
struct CanaryActionCommand: ParsableArguments {
    @Argument(help: "The Canary's name.")
    var name: String

    @OptionGroup var endpoint: CanaryEndpoint

    func validate() throws { try CanaryReference.check(name) }

    func perform(_ command: RolloutCommand) async throws {
        guard let cluster = try endpoint.clusterCanaries() else {
            let status = try await endpoint.server.client.decode(CanaryStatus.self, .POST, CanaryReference.path(name) + "/\(command.rawValue)")
            let said = command.said(phase: status.phase.rawValue, weightsRefused: status.weightsRefused == true, weightsPending: status.weightsPending == true)
            // Which version each weight is: after the handover, 100/0 is the promoted canary's, as the stable.
            let versions = status.refusedBeforeStart == true ? "" : " (stable \(status.stable), canary \(status.canaryLabel))"
            Terminal.out("canary/\(status.name) \(said): \(status.phase), \(status.weightsLabel)\(versions)")
            if let message = status.message { Terminal.out("  \(message)") }
            return
        }
        let timeout = endpoint.server.timeout?.duration ?? ServerOption.clusterCommandTimeout
        let (answer, status) = try await cluster.use { try await $0.send(command, to: name, timeout: timeout) }
        guard answer.accepted else {
            Terminal.err("error: \(answer.message)")
            throw ExitCode(1)
        }
        let weights = answer.canaryWeight.map { ", \(100 - $0)/\($0)" } ?? ""
        let phase = answer.phase ?? status?.phase.rawValue
        Terminal.out("canary/\(name) \(command.said(phase: phase)): \(phase ?? "?")\(weights)")
        if !answer.message.isEmpty { Terminal.out("  \(answer.message)") }
    }
}

/// A command that sends one `RolloutCommand` to the Canary named on the command line.
protocol CanaryAction: AsyncParsableCommand {
    static var action: RolloutCommand { get }
    var target: CanaryActionCommand { get }
}

extension CanaryAction {
    func run() async throws { try await target.perform(Self.action) }
}

struct PromoteCommand: CanaryAction {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Skip the remaining steps and send all traffic to the canary."
    )
    static let action = RolloutCommand.promote
    @OptionGroup var target: CanaryActionCommand
}

struct AbortCommand: CanaryAction {
    static let configuration = CommandConfiguration(commandName: "abort", abstract: "Roll back now: all traffic to the stable version.")
    static let action = RolloutCommand.abort
    @OptionGroup var target: CanaryActionCommand
}

struct PauseCommand: CanaryAction {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Hold the rollout at its current weights until resumed.")
    static let action = RolloutCommand.pause
    @OptionGroup var target: CanaryActionCommand
}

struct ResumeCommand: CanaryAction {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a paused rollout.")
    static let action = RolloutCommand.resume
    @OptionGroup var target: CanaryActionCommand
}

struct RolloutAgainCommand: CanaryAction {
    static let configuration = CommandConfiguration(commandName: "rollout", abstract: "Start the Canary's rollout again from the first step.")
    static let action = RolloutCommand.restart
    @OptionGroup var target: CanaryActionCommand
}

/// `serin history NAME`: the Canary's events and measurements, oldest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Show a Canary's releases (v1 → v2 promoted, v2 → v3 rolled back...) and events, oldest first."
    )

    @Argument(help: "The Canary's name.")
    var name: String

    @Option(parsing: .unconditional, help: "Only the newest N events and measurements.")
    var limit: Int?

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    @OptionGroup var endpoint: CanaryEndpoint

    func validate() throws {
        try CanaryReference.check(name)
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more, got \(limit)") }
    }

    func run() async throws {
        let history: CanaryHistory
        if let cluster = try endpoint.clusterCanaries() {
            history = try await cluster.use { try await $0.history(of: name, limit: limit) }
        } else {
            let query = limit.map { "?limit=\($0)" } ?? ""
            history = try await endpoint.server.client.decode(CanaryHistory.self, .GET, CanaryReference.path(name) + "/history\(query)")
        }
        switch output {
        case .json:
            Terminal.out(try JSONText.encode(history))
        case .table:
            for line in HistoryTable.lines(history) { Terminal.out(line) }
        }
    }
}

/// `serin history`'s text: the releases, then the events, oldest first.
enum HistoryTable {
    static func lines(_ history: CanaryHistory) -> [String] {
        var lines: [String] = []
        if !history.releases.isEmpty {
            lines.append("releases:")
            for release in history.releases {
                let reason = release.reason.map { ": \($0)" } ?? ""
                // A Deployment target's versions are its revisions: the hosts are always NAME-primary and NAME-canary.
                let stable = release.stable + (release.stableRevision.map { " (\($0))" } ?? "")
                let canary = release.canary + (release.canaryRevision.map { " (\($0))" } ?? "")
                lines.append("  \(Timestamp.format(release.started))  \(stable) → \(canary)  \(release.outcome)\(reason)")
            }
            lines.append("events:")
        }
        for event in history.events {
            lines.append("\(Timestamp.format(event.time))  \(event.severity.padding(toLength: 7, withPad: " ", startingAt: 0))  \(event.message)")
        }
        return lines
    }
}

extension RolloutCommand {
    /// What the command did, as the line after it says: a promote that left the rollout progressing released a
    /// `pause: promote` step (it is not promoting), one whose last weights the router refused is not promoted yet, and
    /// one whose last weights the router has not answered yet is still promoting.
    func said(phase: String?, weightsRefused: Bool = false, weightsPending: Bool = false) -> String {
        guard self == .promote else { return pastTense }
        switch phase {
        case RolloutPhase.progressing.rawValue: return "pause released"
        // Nothing was left to run (no post-rollout hooks): the promotion is over by the time the answer comes, once
        // the router has applied its weights.
        case RolloutPhase.succeeded.rawValue: return weightsRefused ? "not promoted yet" : weightsPending ? "promoting" : "promoted"
        default: return pastTense
        }
    }

    var pastTense: String {
        switch self {
        case .start: return "started"
        case .promote: return "promoting"
        case .abort: return "aborted"
        case .pause: return "paused"
        case .resume: return "resumed"
        case .restart: return "restarted"
        }
    }
}

/// Pretty JSON for `-o json`.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Lets `status -o json` print one object or a list through the same path.
struct AnyEncodable: Encodable {
    let encodeValue: (any Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode(to:) }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}

/// `HH:MM:SS` in local time, for log lines.
enum Timestamp {
    static func format(_ unixSeconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: unixSeconds))
    }

    static var now: String { format(Date().timeIntervalSince1970) }
}

/// The `status` table.
enum StatusTable {
    /// `namespaces`: a NAMESPACE column first, as `kubectl get -A` prints, and the lines below the table name each
    /// Canary NAMESPACE/NAME, since two namespaces may each have a `web`. Nil: so when any Canary is outside the
    /// default namespace (a Serin's own Canaries may live in namespaces too, by `metadata.namespace` in its files).
    static func render(_ statuses: [CanaryStatus], namespaces: Bool? = nil) -> String {
        let namespaces = namespaces ?? statuses.contains { $0.namespace != ResourceName.defaultNamespace }
        var rows = [(namespaces ? ["NAMESPACE"] : []) + ["NAME", "PHASE", "STABLE", "CANARY", "STABLE/CANARY", "STEP", "FAILED", "LAST VERDICTS"]]
        let label: (CanaryStatus) -> String = { namespaces ? "\($0.namespace)/\($0.name)" : $0.name }
        for status in statuses {
            // A weight step is the column's default; blue/green's iterations say so.
            let step = status.isBlueGreen ? status.stepLabel : status.stepProgress
            let verdicts = status.lastMeasurements.map(\.verdictLabel).joined(separator: ", ")
            rows.append((namespaces ? [status.namespace] : []) + [
                status.name, status.phaseLabel, status.stable, status.canaryLabel, status.weightsLabel + (status.stickiness.map { " by \($0)" } ?? ""), step,
                "\(status.failedChecks)/\(status.threshold)", verdicts.isEmpty ? "-" : verdicts,
            ])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        // A strategy other than the progressive canary the columns describe, by Flagger's name for it.
        lines += statuses.compactMap { status in
            status.strategy.flatMap { $0 == "canary" ? nil : "\(label(status)): strategy: \($0)" }
        }
        // A/B testing's match: who reaches the canary besides the weights.
        lines += statuses.compactMap { status in status.abMatch.map { "\(label(status)): A/B: \($0)" } }
        // Blue/green with mirroring: the copy the canary is judged on, while it is made.
        lines += statuses.compactMap { status in
            guard status.mirrorsNow, let weight = status.mirrorWeight else { return nil }
            return "\(label(status)): mirror: \(String(format: "%g", weight))% of requests copied to the canary"
        }
        // `analysis.load`: the traffic Serin sends itself while it analyses.
        lines += statuses.compactMap { status in status.sendsLoadNow ? status.syntheticLoad.map { "\(label(status)): synthetic load: \($0)" } : nil }
        // Flagger's `spec.suspend`: said even when the last event speaks of something else.
        lines += statuses.compactMap { status in
            guard status.suspended == true, status.message?.contains("suspended: spec.suspend is true") != true else { return nil }
            return "\(label(status)): suspended: spec.suspend is true"
        }
        for status in statuses {
            guard let message = status.message else { continue }
            // Rollout messages already start with the Canary's name ("web: advance canary weight to 20%").
            lines.append("\(label(status)): \(ResourceName.unqualified(message, name: status.name))")
        }
        return lines.joined(separator: "\n")
    }
}

extension RecordedMeasurement {
    /// A check's verdict as `status` lists it: `request-success-rate pass`, with `(mirrored)` when the canary's
    /// numbers are of mirrored copies of requests, not live traffic.
    var verdictLabel: String {
        "\(metric) \(verdict.outcome.rawValue)" + (mirrored == true ? " (mirrored)" : "")
    }
}

/// A Canary named on the command line, `NAME` or `NAMESPACE/NAME`, checked as Kubernetes checks names: a slip
/// ('', 'we b', 'web?x=1') is said here, not sent along in a URL path where it would name something else.
enum CanaryReference {
    /// The API path of the Canary `reference` names: `NAMESPACE/NAME` travels as one segment, its slash escaped
    /// (`/canaries/shop%2Fweb`), so a Canary outside `default` is reached, not the one of its name in `default`.
    static func path(_ reference: String) -> String {
        "/canaries/" + reference.replacing("/", with: "%2F")
    }

    static func check(_ reference: String) throws {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(ResourceName.isSubdomain) else {
            throw ValidationError("a Canary is named NAME or NAMESPACE/NAME, each lowercase letters, digits, '-' and '.' (web, shop/web), got \"\(reference)\"")
        }
    }
}
