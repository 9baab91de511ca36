import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Logging
import SerinController
import SerinCore
import SerinServer
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinSystem
import SerinLifecycle
import SerinLogging
import ServiceLifecycle

/// `serin demo`: the seed's canary release, automated, end to end on this machine.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the seed's canary release, automated: v2 takes traffic step by step while Serin watches it.",
        discussion: """
            Starts the demo app as v1 and v2 where examples/seed/web-serviceentry.yaml says they live, Serin's \
            gateway with the seed's Gateway and VirtualService, steady traffic, and the Canary in examples/canary: \
            the canary weight rises step by step while its success rate and p99 are checked, then v2 is promoted. \
            With --faulty-canary, v2 fails a share of its requests and Serin rolls back to v1 (exit status 1).

            With --judge statistical the Canary is judged against v1 over the same moments instead of by fixed \
            thresholds: it looks every 2s and decides as soon as the evidence does (demo tolerances: 2 points of \
            errors, 50% of latency), so a faulty v2 is rolled back within seconds, the numbers on the dashboard.

            The seed's manifests and the Canary are built into serin, so the demo runs from any directory; \
            --write-manifests DIR writes them out as a starting point, and --manifests/--canary run your own.

            The dashboard on the admin address (http://127.0.0.1:9900/) shows it live; with --keep-running it \
            stays up after the rollout ends, until Ctrl-C.
            """
    )

    @Option(help: ArgumentHelp("The directory holding the seed's manifests (default: the seed built into serin).", valueName: "dir"))
    var manifests: String?

    @Option(help: ArgumentHelp("The directory holding the Canary (default: the example built into serin).", valueName: "dir"))
    var canary: String?

    @Option(help: ArgumentHelp("Write the built-in manifests to DIR/seed and DIR/canary, and stop.", valueName: "dir"))
    var writeManifests: String?

    @Flag(help: "Make v2 fail a share of requests (--canary-error-rate) so the rollout is rolled back.")
    var faultyCanary = false

    @Option(parsing: .unconditional, help: "With --faulty-canary: share of v2's requests answered with 500 (default: 0.3).")
    var canaryErrorRate: Double?

    /// The share of v2's requests answered 500 when `--faulty-canary` is given.
    static let defaultCanaryErrorRate = 0.3

    @Option(help: ArgumentHelp(
        "How the canary is judged: threshold (Flagger's fixed bounds), statistical (canary against stable, sequentially) or mannWhitney (Kayenta's fixed-window latency test).",
                               valueName: "judge"))
    var judge: JudgeSettings.Kind?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --faulty-canary: latency added to each v2 answer, e.g. 300ms.", valueName: "duration"))
    var canaryLatency: DurationArgument = DurationArgument(.zero)

    @Option(parsing: .unconditional, help: "Added to every Gateway server port: the seed's port 80 listens on 80 + this.")
    var portOffset: Int = 8000

    @Option(parsing: .unconditional, help: "Added to every ServiceEntry endpoint port the demo apps listen on (18081, 18082).")
    var appPortOffset: Int = 0

    @Option(help: ArgumentHelp(
        "The admin endpoint's address (dashboard, API, metrics; default: 127.0.0.1:9900). Anything but loopback needs --admin-token-file or SERIN_ADMIN_TOKEN.",
        valueName: "host:port"
    ), transform: HostPort.parse)
    var admin: HostPort = HostPort(host: "127.0.0.1", port: 9900)

    @OptionGroup var adminToken: AdminTokenOption

    @Option(parsing: .unconditional, help: "Requests per second of generated traffic.")
    var rate: Int = 200

    @Option(parsing: .unconditional, help: ArgumentHelp("Event-loop threads for the gateway (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("The SQLite state file (default: a fresh temporary file).", valueName: "path"))
    var state: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Give up after this long, e.g. 3m.", valueName: "duration"))
    var timeout: DurationArgument = DurationArgument(.seconds(300))

    @Flag(help: "When the rollout ends, keep the dashboard and API up (with the rollout's story) until Ctrl-C or SIGTERM.")
    var keepRunning = false

    func validate() throws {
        if rate < 1 { throw ValidationError("--rate must be at least 1, got \(rate)") }
        if state?.isEmpty == true { throw ValidationError("--state takes the path of the SQLite state file, got an empty one") }
        try ServingOptions.validate(threads: threads)
        if let canaryErrorRate, !(0...1).contains(canaryErrorRate) {
            throw ValidationError("--canary-error-rate must be between 0 and 1, got \(canaryErrorRate)")
        }
        // They shape the faulty canary only: given alone, they would change nothing and say nothing.
        if !faultyCanary, let given = [("--canary-error-rate", canaryErrorRate != nil), ("--canary-latency", canaryLatency.duration > .zero)]
            .first(where: \.1) {
            throw ValidationError("\(given.0) shapes the faulty canary: add --faulty-canary, or leave it out")
        }
        if writeManifests?.isEmpty == true { throw ValidationError("--write-manifests takes a directory, got an empty one") }
    }

    func run() async throws {
        if let writeManifests {
            let written = try Self.writeBuiltIn(to: URL(fileURLWithPath: writeManifests))
            Terminal.out("serin demo: wrote \(written.seed) and \(written.canary); run them with "
                + "serin demo --manifests \(written.seed) --canary \(written.canary)")
            return
        }
        await SignalledGroup.trapSignals()
        var builtIn: URL?
        if manifests == nil || canary == nil {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-demo-manifests-\(UUID().uuidString.prefix(8))")
            builtIn = directory
            _ = try Self.writeBuiltIn(to: directory)
        }
        defer { if let builtIn { try? FileManager.default.removeItem(at: builtIn) } }
        let manifests = self.manifests ?? builtIn!.appendingPathComponent("seed").path
        let canary = self.canary ?? builtIn!.appendingPathComponent("canary").path
        for directory in [manifests, canary] where !FileManager.default.fileExists(atPath: directory) {
            Terminal.err("error: \(directory) not found (leave out --manifests/--canary to run the seed built into serin)")
            throw ExitCode(1)
        }
        var reporter = StartupReporter.terminal
        reporter.quietWarningsUnder = builtIn?.path
        let (set, _, loadErrors, _) = ManifestReading.read(paths: [manifests, canary], recursive: false, reporter: reporter)
        if set.hasErrors || loadErrors > 0 { throw ExitCode(1) }
        guard let spec = set.resources.canaries.first else {
            Terminal.err("error: no Canary resource in \(canary)")
            throw ExitCode(1)
        }
        let resources = set.resources.map { $0.shiftingEndpointPorts(by: appPortOffset).judged(by: judge) }
        // Refused before the apps start and say where they listen.
        let access: AdminAccess
        do {
            access = try adminToken.access(servingOn: admin, readRequiresToken: false)
        } catch {
            Terminal.err("error: \(error)")
            throw ExitCode(1)
        }
        let apps = try await startApps(for: MeshConfig(resources: resources), canaryHost: spec.canary.host)
        let statePath = state ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("serin-demo-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
            .appendingPathComponent("state.sqlite").path
        // A state file of the demo's own goes with it however the demo ends: finished, failed to start, or stopped.
        defer { if state == nil { try? FileManager.default.removeItem(atPath: (statePath as NSString).deletingLastPathComponent) } }
        let view = DemoView(interactive: Terminal.isInteractive)
        // The controller's lines above the progress line, as `serin up` prints them.
        let logger = LogSettings(output: view).logger(label: "serin.demo")
        let runtime: GatewayRuntime
        do {
            runtime = try await GatewayRuntime.start(
                resources: resources, threads: threads ?? System.coreCount, bindHost: "127.0.0.1", portMapping: .offset(portOffset),
                adminHost: admin.host, adminPort: admin.port,
                adminAccess: access,
                // The demo's own load and a few browsers: far below the open-file limit of any machine, so the
                // gateway has no cap to report.
                limits: GatewayLimits(maxConnections: 1024),
                logger: logger, controller: .init(statePath: statePath, announcesNewState: state != nil, logger: logger)
            )
        } catch {
            Terminal.err("error: \(error)")
            for app in apps { await app.close() }
            throw ExitCode(1)
        }
        guard let port = runtime.gateway.boundPort(forDeclared: 80), let controller = runtime.controller else {
            Terminal.err("error: the seed's Gateway has no port 80 server in \(manifests)")
            await runtime.shutdown()
            throw ExitCode(1)
        }
        logger.info("serin demo: gateway on http://127.0.0.1:\(port)/ · API and metrics on \(runtime.adminURL) · state in \(statePath)")
        logger.info("serin demo: dashboard on \(runtime.adminURL)/")

        let load = SteadyLoad()
        load.start(port: port, rate: rate, connections: 4, group: runtime.gateway.group)
        let demo = self
        let outcome = DemoOutcome()
        // The rollout ends the demo (with --keep-running, the next signal does); a signal ends it early too.
        let rollout = ServicePiece.loop("rollout") {
            let (final, stableHost) = await demo.watch(spec, controller: controller, runtime: runtime, view: view)
            await load.stop()
            view.finishProgress()
            await outcome.finished(final)
            let events = (try? await controller.events(of: spec.name)) ?? []
            let measurements = (try? await controller.measurements(of: spec.name)) ?? []
            demo.printSummary(final: final, stableHost: stableHost, spec: spec, load: load, events: events, measurements: measurements)
            if demo.keepRunning, !Task.isCancelled {
                Terminal.out("serin demo: the dashboard stays up on \(runtime.adminURL)/ — Ctrl-C to stop")
                try? await gracefulShutdown()
            }
        }
        try await SignalledGroup.run(
            apps.map { app in ServicePiece.stopping("demo app on port \(app.port)") { await app.close() } } + [runtime],
            until: rollout, label: nil, logger: logger
        )
        guard let final = await outcome.final, load.failuresCausedByProxy.isEmpty, final.phase == .succeeded else { throw ExitCode(1) }
    }

    /// Shows the rollout's progress each second until it succeeds or fails, --timeout passes or the task is
    /// cancelled; returns how it ended and the release's stable — what served when it began, v1 — even once the
    /// promoted canary serves.
    private func watch(
        _ spec: CanarySpec, controller: CanaryController, runtime: GatewayRuntime, view: DemoView
    ) async -> (CanaryStatus?, String) {
        let started = ContinuousClock.now
        var stableHost = spec.stable?.host ?? "stable"
        while ContinuousClock.now - started < timeout.duration, !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let status = await controller.status(of: spec.name) else { continue }
            let rollout = await controller.rollout(named: spec.name)
            if let rollout { stableHost = rollout.status.stable.host }
            view.progress(status, traffic: runtime.history.window(.seconds(2)).counts, stable: stableHost, canary: spec.canary.host)
            // Finished, and its last word said: where the traffic is, once the router applied the last weights.
            if status.phase == .succeeded || status.phase == .failed, rollout?.status.lastWordAwaitsWeights != true { return (status, stableHost) }
        }
        return (nil, stableHost)
    }

    /// What the demo's clients got: every request sent, by the version that answered it (its failures, the app's
    /// 500s, counted in its share and said beside it), and what Serin failed (no version answered, or no answer at all).
    static func trafficLine(_ tally: VersionTally, proxyFailures: Int) -> String {
        let versions = Set(tally.counts.keys).union(tally.failedByVersion.keys).sorted()
        let parts = versions.map { version in
            let failed = tally.failedByVersion[version] ?? 0
            return "\(version) \((tally.counts[version] ?? 0) + failed)" + (failed > 0 ? " (\(failed) of them failed)" : "")
        } + ["\(proxyFailures) failed by Serin"]
        return "traffic: \(tally.total) requests — " + parts.joined(separator: ", ")
    }

    /// The timeline, the traffic tally and how the rollout ended.
    private func printSummary(
        final: CanaryStatus?, stableHost: String, spec: CanarySpec, load: SteadyLoad, events: [RolloutEvent],
        measurements: [RecordedMeasurement]
    ) {
        let tally = load.counts
        let proxyFailures = load.failuresCausedByProxy
        Terminal.out("")
        Terminal.out("timeline:")
        for line in DemoTimeline.lines(events: events, measurements: measurements) { Terminal.out("  \(line)") }
        Terminal.out("")
        Terminal.out(Self.trafficLine(tally, proxyFailures: proxyFailures.count))
        guard let final else {
            // Stopped by SIGTERM or Ctrl-C (the rollout piece is cancelled), or out of time.
            Terminal.out(Task.isCancelled ? "serin demo: stopped before the rollout finished" : "serin demo: gave up after \(timeout): the rollout did not finish")
            return
        }
        let weights = final.releaseWeights
        Terminal.out("serin demo: \(final.phase.rawValue), \(weights.stable)% \(stableHost) / \(weights.canary)% \(spec.canary.host)")
        if let message = final.message { Terminal.out("  \(message)") }
        if !proxyFailures.isEmpty {
            Terminal.out("  requests Serin failed: \(proxyFailures.prefix(3).joined(separator: "; "))")
        }
    }

    /// One demo app per ServiceEntry endpoint, answering as the endpoint's `version` label; the canary's
    /// endpoints misbehave when asked to.
    private func startApps(for config: MeshConfig, canaryHost: String) async throws -> [HTTPListener] {
        var apps: [HTTPListener] = []
        for service in config.services {
            let isCanary = service.hosts.contains(canaryHost)
            for endpoint in service.endpoints {
                let version = endpoint.labels["version"] ?? service.name.name
                let configuration = DemoApp.Configuration(
                    version: version, errorRate: faultyCanary && isCanary ? canaryErrorRate ?? Self.defaultCanaryErrorRate : 0,
                    latency: faultyCanary && isCanary ? canaryLatency.duration : .zero
                )
                for port in Set(endpoint.ports.values) {
                    do {
                        let app = try await DemoApp(configuration)
                            .serve(group: MultiThreadedEventLoopGroup.singleton, host: endpoint.address, port: port)
                        apps.append(app)
                        let faults = configuration.errorRate > 0 ? " — failing \(Int(configuration.errorRate * 100))% of requests" : ""
                        Terminal.out("serin demo: \(version) on http://\(endpoint.address):\(port) (\(service.hosts[0]))\(faults)")
                    } catch {
                        for app in apps { await app.close() }
                        Terminal.err(
                            "error: cannot start the \(version) demo app on \(endpoint.address):\(port): \(TransportErrorText.describe(error)); "
                                + "pick other ports with --app-port-offset N"
                        )
                        throw ExitCode(1)
                    }
                }
            }
        }
        return apps
    }
}

/// How the demo's rollout ended, kept for the exit status once every piece has stopped.
private actor DemoOutcome {
    private(set) var final: CanaryStatus?

    func finished(_ status: CanaryStatus?) { final = status }
}

extension LocatedResource {
    /// The same resource with every ServiceEntry endpoint port moved by `offset` (`--app-port-offset`).
    /// The Canary judged by `kind`: with `statistical`, settings that decide within the demo's traffic (looks every
    /// 2s, tolerances of 2 points of errors and 50% of latency, 5s at least per step, 2m to decide one).
    func judged(by kind: JudgeSettings.Kind?) -> LocatedResource {
        guard let kind, case .canary(var spec) = resource, spec.analysis.judge.kind != kind else { return self }
        switch kind {
        case .threshold, .mannWhitney:
            spec.analysis.judge = JudgeSettings(kind: kind)
        case .statistical:
            spec.analysis.judge = JudgeSettings(kind: .statistical, errorRateIncrease: 2, latencyIncrease: 50, minStepDuration: .seconds(5))
            spec.analysis.interval = .seconds(2)
            spec.analysis.progressDeadline = max(spec.analysis.progressDeadline, .seconds(120))
        }
        var copy = self
        copy.resource = .canary(spec)
        return copy
    }

    func shiftingEndpointPorts(by offset: Int) -> LocatedResource {
        guard offset != 0, case .serviceEntry(var entry) = resource else { return self }
        entry.endpoints = entry.endpoints.map { endpoint in
            var endpoint = endpoint
            endpoint.ports = endpoint.ports.mapValues { $0 + offset }
            return endpoint
        }
        var copy = self
        copy.resource = .serviceEntry(entry)
        return copy
    }
}

extension DemoCommand {
    /// Writes the seed's manifests and the example Canary built into serin to `directory/seed` and
    /// `directory/canary`; refuses to overwrite a file that is there.
    static func writeBuiltIn(to directory: URL) throws -> (seed: String, canary: String) {
        var paths: [String] = []
        for (folder, files) in [("seed", EmbeddedText.seed), ("canary", EmbeddedText.canary)] {
            let target = directory.appendingPathComponent(folder)
            do {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } catch {
                Terminal.err("error: cannot write --write-manifests \(directory.path): making \(target.path): \(FileErrorText.reason(error))")
                throw ExitCode(1)
            }
            for (name, text) in files {
                let file = target.appendingPathComponent(name)
                guard !FileManager.default.fileExists(atPath: file.path) else {
                    Terminal.err("error: \(file.path) exists; serin demo --write-manifests never overwrites (pick an empty directory)")
                    throw ExitCode(1)
                }
                do {
                    try Data(text.utf8).write(to: file)
                } catch {
                    Terminal.err("error: cannot write \(file.path): \(FileErrorText.reason(error))")
                    throw ExitCode(1)
                }
            }
            paths.append(target.path)
        }
        return (paths[0], paths[1])
    }
}

extension JudgeSettings.Kind: ExpressibleByArgument {}
