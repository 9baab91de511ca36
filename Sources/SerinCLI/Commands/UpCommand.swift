import ArgumentParser
import Logging
import SerinCore
import SerinServer
import SerinEmbedded
import SerinManifests
import SerinPrometheus
import SerinStore
import SerinController
import SerinGateway
import SerinLifecycle
import SerinLogging
import ServiceLifecycle

/// `serin up`: gateway, canary controller and admin API together — the automated canary, embedded.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Serve manifests and run their Canary resources: weights move, analysis decides, state survives restarts.",
        discussion: """
            Each Canary names a VirtualService and its stable and canary destinations; Serin moves the weights \
            step by step, checks the canary's success rate and p99 from the gateway's own counters, and promotes \
            or rolls back. State lives in a SQLite file (--state); after a crash Serin resumes at the same step.

            Watch and steer it on the dashboard at the admin address (http://127.0.0.1:9900/ by default), over \
            the HTTP API (/canaries, /events, /openapi.json), or with `serin status`, \
            `serin promote|abort|pause|resume|rollout NAME` and `serin history NAME`. An admin address beyond \
            127.0.0.1 needs a token for every POST: --admin-token-file PATH or SERIN_ADMIN_TOKEN. On SIGHUP it \
            reads the -f manifests again and applies them, as `serin apply -f` would.
            Example: serin up -f examples/seed -f examples/canary --port-offset 8000
            """
    )

    @OptionGroup var manifests: ManifestOptions
    @OptionGroup var serving: ServingOptions
    @OptionGroup var logging: LogOptions

    @Option(help: ArgumentHelp("The SQLite state file.", valueName: "path"))
    var state: String = ".serin/state.sqlite"

    @Option(help: ArgumentHelp(
        "Read the built-in metrics from this Prometheus (Istio's istio_requests_total and istio_request_duration_milliseconds) instead of the gateway's own counters: http:// or https://, with a path prefix if it has one.",
        valueName: "url"
    ))
    var prometheus: String?

    @Option(help: ArgumentHelp(
        "How much history each Canary keeps: a number of releases (10, at most 20), an age (168h, 7d), or both (10,7d); older events and measurements are deleted. Default: all.",
        valueName: "releases,age"
    ))
    var historyRetention: String?

    @Option(help: ArgumentHelp(
        "Delete the stored rollout and history of a Canary the -f files no longer give (NAME or NAMESPACE/NAME; repeat for more). Without it, such a rollout refuses the start, so a file left out of a restart loses nothing.",
        valueName: "canary"
    ))
    var forget: [String] = []

    /// `2 documents (kind Foo at a.yaml:3:1, kind Bar at b.yaml:1:1)`.
    static func skippedSummary(_ skipped: [Diagnostic]) -> String {
        let each = skipped.map { diagnostic in
            "kind \(diagnostic.skippedKind ?? "?")" + (diagnostic.location.map { " at \($0)" } ?? "")
        }
        return "\(skipped.count) document\(skipped.count == 1 ? "" : "s") Serin does not read (\(each.joined(separator: ", ")))"
    }

    /// Says at start whether `--prometheus` answers queries, as Flagger checks its metrics server: a wrong address is
    /// said now, not first found when a check fails after traffic has moved. The start goes on either way (Prometheus
    /// may come up later); each check asks again.
    static func checkPrometheus(_ address: String, logger: Logger) {
        Task {
            switch await PrometheusClient(address: address).isReachable() {
            case .success: logger.info("serin up: Prometheus at \(address) answers queries")
            case .failure(let error):
                logger.error("serin up: Prometheus at \(address) does not answer queries: \(error.message); until it does, every check of a rollout that reads it fails")
            }
        }
    }

    func validate() throws {
        if state.isEmpty { throw ValidationError("--state takes the path of the SQLite state file, got an empty one") }
        if let historyRetention {
            do {
                _ = try HistoryRetention(parsing: historyRetention)
            } catch {
                throw ValidationError(error.description)
            }
        }
        if let prometheus, let problem = PrometheusAddress.problem(with: prometheus) { throw ValidationError("--prometheus: \(problem)") }
        for name in forget {
            do { try CanaryReference.check(name) } catch let error as ValidationError { throw ValidationError("--forget: \(error.message)") }
        }
    }

    /// The Canaries `--forget` names, in the default namespace unless a NAMESPACE/ is given.
    var forgotten: Set<ResourceName> {
        Set(forget.map { reference in
            let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2 ? ResourceName(namespace: parts[0], name: parts[1]) : ResourceName(name: reference)
        })
    }

    func run() async throws {
        await SignalledGroup.trapSignals()
        let hangups = await ManifestReload.trapHangups()
        // On a terminal, with text logs, a live line per rollout sits under the log, as `serin demo` shows it.
        let view = Terminal.isInteractive && logging.logFormat == .text ? DemoView(interactive: true) : nil
        let logger = view.map { LogSettings(format: .text, level: logging.logLevel.level, output: $0).logger(label: "serin.up") }
            ?? logging.logger("up")
        let reporter = logging.reporter(logger)
        let (set, _, loadErrors, _) = manifests.load(servingMesh: serving.mesh != nil, reporter: reporter)
        if set.hasErrors || loadErrors > 0 { throw ExitCode(1) }
        let skipped = set.skipped.isEmpty ? "" : "; skipped \(Self.skippedSummary(set.skipped))"
        guard serving.mesh != nil || set.resources.contains(where: { $0.kind == .gateway }) else {
            reporter.error("nothing to serve: \(manifests.files.joined(separator: ", ")) hold\(manifests.files.count == 1 ? "s" : "") "
                + "\(set.contents) and no Gateway\(skipped); give the Gateway with -f (for example: -f examples/seed), "
                + "or serve the mesh with --mesh HOST:PORT")
            throw ExitCode(1)
        }
        // Refused before it says it serves anything.
        let access = try serving.adminAccessOrExit(reporter: reporter)
        // "Loaded", not "serving": a start that fails next (a port taken, a key that does not match) serves nothing.
        logger.info("serin up: loaded \(set.contents)\(skipped)")
        let runtime = try await serving.startOrExit(
            resources: set.resources, access: access, controller: .init(
                statePath: state, metrics: prometheus.map { .prometheus(address: $0) } ?? .gateway,
                retention: historyRetention.flatMap { try? HistoryRetention(parsing: $0) } ?? .unlimited, forget: forgotten,
                logger: logger),
            label: "serin up", logger: logger, reporter: reporter
        )
        if let prometheus { Self.checkPrometheus(prometheus, logger: logger) }
        var pieces: [any Service] = [
            runtime, ManifestReload.piece(hangups: hangups, manifests: manifests, live: runtime.live, label: "serin up", logger: logger),
        ]
        if let view, let controller = runtime.controller {
            pieces.append(ServicePiece.loop("live view") {
                while !Task.isCancelled {
                    // The rollout in flight, else the newest one to finish.
                    let statuses = await controller.statuses()
                    if let status = statuses.first(where: { !$0.phase.isFinished && $0.phase != .initialized }) ?? statuses.first,
                        let rollout = await controller.rollout(named: ResourceName(namespace: status.namespace, name: status.name))
                    {
                        view.progress(status, traffic: runtime.history.window(.seconds(2)).counts,
                                      stable: rollout.status.stable.host, canary: rollout.status.canary.host)
                    }
                    try? await Task.sleep(for: .milliseconds(500))
                }
                view.finishProgress()
            })
        }
        try await serving.runUntilSignalled(
            pieces, label: "serin up", logger: logger,
            ready: "serin up: dashboard on \(runtime.adminURL)/ · API on \(runtime.adminURL); state in \(state)"
        )
    }
}
