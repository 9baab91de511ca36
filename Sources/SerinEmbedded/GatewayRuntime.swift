import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinGateway
import SerinLifecycle
import SerinListener
import SerinManifests
import SerinServer
import SerinSystem
import SerinPrometheus
import SerinStore
import SerinWebhooks
import ServiceLifecycle

/// Embedded mode, assembled: the gateway, its admin endpoint, the live configuration behind `apply`,
/// and — for `serin up` — the canary controller with gateway metrics and a SQLite state file.
///
/// `start` binds everything or nothing; the pieces then run as a `ServiceGroup`, and graceful shutdown (the
/// runtime is itself a `Service`, or `shutdown()`) stops them in reverse order: the admin endpoint, the
/// controller (the step in progress ends first), the telemetry sampler, then the gateway, which drains.
public final class GatewayRuntime: Service, Sendable {
    public let gateway: GatewayServer
    public let live: LiveConfiguration
    public let admin: HTTPListener
    public let controller: CanaryController?
    public let history: TelemetryHistory
    private let pieces: PieceGroup

    /// The controller's settings, for `serin up`.
    public struct ControllerOptions: Sendable {
        /// The SQLite state file (`./.serin/state.sqlite` by default).
        public var statePath: String
        public var tickInterval: Duration
        /// Where the built-in metrics come from.
        public var metrics: MetricSource
        /// Where event lines go; each Canary's carry its name.
        public var logger: Logger
        /// How often a quiet `/events` stream gets a comment line.
        public var eventKeepAlive: Duration
        /// How much of each Canary's history the state file keeps.
        public var retention: HistoryRetention
        /// Stored rollouts whose Canary the files no longer give, to be deleted with their history (`--forget`);
        /// any other such rollout refuses the start.
        public var forget: Set<ResourceName>
        /// Whether a state file with nothing stored is said at start (not for a demo's own temporary one).
        public var announcesNewState: Bool

        public init(
            statePath: String, tickInterval: Duration = .milliseconds(100), metrics: MetricSource = .gateway,
            eventKeepAlive: Duration = .seconds(15), retention: HistoryRetention = .unlimited, forget: Set<ResourceName> = [],
            announcesNewState: Bool = true, logger: Logger
        ) {
            self.retention = retention
            self.forget = forget
            self.announcesNewState = announcesNewState
            self.statePath = statePath
            self.tickInterval = tickInterval
            self.metrics = metrics
            self.eventKeepAlive = eventKeepAlive
            self.logger = logger
        }
    }

    private init(
        gateway: GatewayServer, live: LiveConfiguration, admin: HTTPListener, controller: CanaryController?,
        history: TelemetryHistory, pieces: [ServicePiece], logger: Logger
    ) {
        self.gateway = gateway
        self.live = live
        self.admin = admin
        self.controller = controller
        self.history = history
        self.pieces = PieceGroup(pieces, logger: logger)
    }

    /// Tells the log what the listeners could not take in the last second.
    private static func report(_ change: GatewayHealth.Counts, of gateway: GatewayServer, capSetBy: String, to logger: Logger) {
        if change.acceptFailures > 0 {
            let pause = GatewayServer.acceptPause.nanoseconds / 1_000_000
            logger.error(
                "\(change.acceptFailures) accept(s) failed in the last second (\(change.lastFailure ?? "unknown error")): new connections wait in the listen backlog while the gateway retries every \(pause) ms; if it is out of file descriptors, raise the open-file limit (ulimit -n, systemd LimitNOFILE=) or lower --max-connections"
            )
        }
        if change.overflow > 0 {
            logger.warning(
                "\(change.overflow) connection(s) refused in the last second: \(gateway.limits.maxConnections) client connections were open, the most allowed \(capSetBy)"
            )
        }
    }

    /// `limits` with at most the client connections the open-file limit can hold, after raising the soft limit to
    /// the hard one (see `OpenFileLimit`): over the cap a connection is refused as it is accepted, which is
    /// better than accepts and upstream connects failing for lack of file descriptors. Said as `ConnectionCap` says:
    /// a warning only where the cap bites (`written`: `limits.maxConnections` is the user's `--max-connections`).
    private static func fittedToOpenFiles(_ limits: GatewayLimits, written: Bool, logger: Logger) -> GatewayLimits {
        guard let files = OpenFileLimit.raiseToHardLimit() else { return limits }
        if files.now > files.before { logger.debug("open-file limit raised from \(files.before) to \(files.now), the hard limit") }
        let cap = ConnectionCap(asked: limits.maxConnections, written: written, openFiles: files.now)
        if let notice = cap.notice {
            switch notice.level {
            case .warning: logger.warning("\(notice.message)")
            case .debug: logger.debug("\(notice.message)")
            }
        }
        var fitted = limits
        fitted.maxConnections = cap.connections
        return fitted
    }

    /// Why the runtime did not start, with the flag that fixes it.
    public enum StartError: Error, CustomStringConvertible {
        case gateway(GatewayError)
        case mesh(any Error)
        case admin(address: String, underlying: any Error)
        case state(any Error)
        /// The stored rollouts send requests to stables these files do not say how to reach
        /// (`LiveConfiguration.routingWithheld`).
        case strandedStables([String])
        /// The state file holds rollouts whose Canaries the files do not give, and `--forget` does not name them.
        case canariesNotGiven([String])
        /// Bound beyond loopback without a token.
        case adminAccess(String)

        public var description: String {
            switch self {
            case .gateway(.tls(let problem)):
                // A certificate problem: other ports would not help.
                return problem
            case .gateway(let error):
                return "\(error); pick other ports with --port-offset N"
            case .mesh(GatewayError.meshTCPUnavailable(let address, let port, let declared, let reason)):
                // The service port's own listener: another --mesh port would not move it, another host or offset does.
                return "cannot listen on \(address):\(port) for the mesh's TCP service port \(declared): \(reason); a sidecar "
                    + "takes each TCP service port on the mesh's address, so nothing else there may listen on it: give --mesh "
                    + "another host (127.0.0.2:15001), or move the ports with --port-offset"
            case .mesh(let error):
                return "\(error); pick another with --mesh HOST:PORT"
            case .admin(let address, let underlying):
                return "cannot serve the admin endpoint on \(address): \(TransportErrorText.describe(underlying)); pick another with --admin HOST:PORT"
            case .state(let error):
                return "\(error)"
            case .strandedStables(let problems):
                return problems.joined(separator: "\n") + "\n(nothing was started: its requests would have been answered 503)"
            case .canariesNotGiven(let problems):
                return problems.joined(separator: "\n") + "\n(nothing was started, nothing was deleted)"
            case .adminAccess(let problem):
                return problem
            }
        }
    }

    /// Binds every Gateway port, the mesh listener when asked (`mesh`: host and port, 0 for a free one) and the
    /// admin endpoint, and starts the controller when asked; on failure nothing is left listening. On shutdown,
    /// `/readyz` fails at once; for `minDrainDuration` the listeners still take requests, each answered with
    /// `connection: close` (the time a load balancer needs to stop sending); then they close, and requests in flight
    /// get up to `drainTimeout` to finish. `maxConnectionsWritten`: `limits.maxConnections` is the user's
    /// `--max-connections`, so an open-file limit that holds fewer is warned of (`ConnectionCap`).
    public static func start(
        resources: [LocatedResource], threads: Int, bindHost: String, portMapping: GatewayServer.PortMapping,
        mesh: (host: String, port: Int)? = nil, meshWorkload: SourceWorkload = SourceWorkload(), locality: Locality? = nil,
        adminHost: String, adminPort: Int, adminAccess: AdminAccess = .open, limits: GatewayLimits = .default,
        maxConnectionsWritten: Bool = false, drainTimeout: TimeAmount = .zero, minDrainDuration: TimeAmount = .zero, logger: Logger = Logger(label: "serin.gateway", factory: { _ in SwiftLogNoOpLogHandler() }),
        controller controllerOptions: ControllerOptions? = nil
    ) async throws -> GatewayRuntime {
        if let problem = adminAccess.problem(servingOn: adminHost, port: adminPort) { throw StartError.adminAccess(problem) }
        let (store, served, withheld) = try openState(controllerOptions, resources: resources)
        let requested = limits
        let limits = fittedToOpenFiles(limits, written: maxConnectionsWritten, logger: logger)
        // What set the cap a refused connection met: said with each second's refusals.
        let capSetBy = limits.maxConnections < requested.maxConnections
            ? "as the open-file limit allows (--max-connections \(requested.maxConnections) needs a higher one)" : "(--max-connections)"
        let gateway = GatewayServer(threads: threads, bindHost: bindHost, portMapping: portMapping, limits: limits)
        let live = LiveConfiguration(gateway: gateway, resources: served, meshWorkload: meshWorkload, gatewayLocality: locality)
        let history = TelemetryHistory(telemetry: gateway.telemetry)
        do { try await live.installCurrent() } catch let error as GatewayError { throw await unbound(gateway, .gateway(error)) }
        for warning in GatewayTLS.certificateDateWarnings(in: gateway.routes.versioned.table) { logger.warning("\(warning)") }
        if let mesh {
            do { try await gateway.openMesh(host: mesh.host, port: mesh.port) } catch { throw await unbound(gateway, .mesh(error)) }
        }
        let readiness = Readiness()
        let routes = adminRoutes(
            gateway: gateway, live: live, readiness: readiness, access: adminAccess, servesMetrics: controllerOptions == nil)
        var controller: CanaryController?
        let ownMetrics = ControllerMetricsRegistry()
        if let options = controllerOptions, let store {
            do {
                controller = try await restoredController(
                    options, store: store, gateway: gateway, live: live, history: history, metrics: ownMetrics)
            } catch { throw await unbound(gateway, .state(error)) }
            // What the first table could not serve as stored is a refused split to its rollout, said and retried.
            for split in withheld { await controller?.weightsWithheld(split.split, reason: split.reason, of: split.canary) }
            AdminSurface.register(
                controller!, metrics: ownMetrics, on: routes, eventKeepAlive: options.eventKeepAlive,
                metricsBefore: { GatewayAdmin.metricsPieces(gateway) })
        }
        AdminSurface.registerDocument(on: routes)
        let admin: HTTPListener
        do {
            admin = try await routes.start(host: adminHost, port: adminPort, group: gateway.group)
        } catch { throw await unbound(gateway, .admin(address: "\(adminHost):\(adminPort)", underlying: error)) }
        // Listed in start order; graceful shutdown stops them last first.
        let pieces: [ServicePiece] = [
            .stopping("gateway listeners") {
                let cut = await gateway.shutdown(drainTimeout: drainTimeout)
                if cut > 0 {
                    logger.warning("\(cut) connection(s) cut \(Task.isCancelled ? "when a second signal ended the drain" : "at the drain timeout")")
                }
            },
            .loop("telemetry sampler") { await history.sample(every: .milliseconds(250)) },
            .loop("listener watch") {
                await gateway.watchListeners(every: .seconds(1)) { change in report(change, of: gateway, capSetBy: capSetBy, to: logger) }
            },
            .loop("certificate reload") {
                await gateway.watchCertificates(every: .seconds(2)) { outcome in
                    switch outcome {
                    case .reloaded(let files):
                        logger.info("TLS certificates reloaded: \(files.joined(separator: ", "))")
                        for warning in GatewayTLS.certificateDateWarnings(in: gateway.routes.versioned.table) { logger.warning("\(warning)") }
                    case .failed(let error): logger.error("TLS certificates not reloaded, the ones in use stay: \(error)")
                    case .unchanged: break
                    }
                }
            },
        ]
            // Closed once the controller has saved what it decided: the next serin on this state file may start at once.
            + (store.map { store in [.stopping("state file") { store.close() }] } ?? [])
            + (controller.map { canary in [.loop("canary controller") { await canary.run() }] } ?? []) + [
            // The admin endpoint first: an answer in flight may wait on the controller, which still runs. It stays up
            // through the minimum drain, so /readyz answers 503 to the load balancer that still sends.
            .stopping("admin endpoint") {
                readiness.markStopping()
                if minDrainDuration > .zero {
                    await gateway.beginDrain()
                    try? await Task.sleep(for: .nanoseconds(minDrainDuration.nanoseconds))
                }
                await admin.close()
            },
        ]
        let runtime = GatewayRuntime(
            gateway: gateway, live: live, admin: admin, controller: controller, history: history, pieces: pieces, logger: logger
        )
        // Rollouts start only once everything listens, so a failed start changes no stored state.
        if let canary = controller, let options = controllerOptions {
            await admitCanaries(to: canary, live: live, resources: resources, logger: options.logger)
        }
        readiness.markReady()
        return runtime
    }

    /// Stops the gateway so a failed start leaves nothing listening, and hands back why it failed.
    private static func unbound(_ gateway: GatewayServer, _ failure: StartError) async -> StartError {
        await gateway.shutdown()
        return failure
    }

    /// The stored rollouts' weights are in the first routing table the gateway serves: the files may still
    /// route to a version a promotion retired, and not one request may reach it before the controller runs.
    private static func openState(
        _ options: ControllerOptions?, resources: [LocatedResource]
    ) throws -> (SQLiteRolloutStore?, [LocatedResource], [LiveConfiguration.Withheld]) {
        guard let options else { return (nil, resources, []) }
        do {
            // Said, since a start with nothing stored begins every release again: the first start, or a state file
            // deleted or emptied since the last (a wrong --state path reads the same).
            let size = (try? FileManager.default.attributesOfItem(atPath: options.statePath)[.size] as? Int) ?? nil
            let opened = try SQLiteRolloutStore(path: options.statePath, retention: options.retention)
            if options.announcesNewState, size == nil || size == 0 {
                options.logger.info("state file \(options.statePath) is new: nothing stored, each Canary starts from its files")
            }
            let stored = try opened.loadRollouts()
            let notGiven = Self.canariesNotGiven(stored, resources: resources, forget: options.forget, statePath: options.statePath)
            if !notGiven.isEmpty {
                opened.close()
                throw StartError.canariesNotGiven(notGiven)
            }
            let (routed, withheld, stranded) = LiveConfiguration.routingWithheld(resources, as: Array(stored.values))
            if !stranded.isEmpty {
                opened.close()
                throw StartError.strandedStables(stranded)
            }
            return (opened, routed, withheld)
        } catch let error as StartError {
            throw error
        } catch {
            throw StartError.state(error)
        }
    }

    /// Why the start is refused for each stored rollout whose Canary the files do not give and `forget` does not
    /// name. Started anyway, the controller would delete its rollout and history, and the files' routes, which may
    /// name the version a promotion retired, would take its traffic: one `-f` left out of a restart must not do that.
    static func canariesNotGiven(
        _ stored: [ResourceName: Rollout], resources: [LocatedResource], forget: Set<ResourceName>, statePath: String
    ) -> [String] {
        let given = Set(resources.canaries.map(\.name))
        return stored.keys.sorted().filter { !given.contains($0) && !forget.contains($0) }.compactMap { name in
            guard let rollout = stored[name] else { return nil }
            let status = rollout.status
            let traffic = status.isHandedOver
                ? "all traffic on \(status.stable)" : "\(status.stableWeight)/\(status.canaryWeight) between \(status.stable) and \(status.canary)"
            return "\(statePath) holds the rollout of Canary \(name.displayName) (\(status.phase.rawValue), \(traffic)), "
                + "which none of these files gives: started without it, Serin would delete that rollout and its history, and "
                + "VirtualService \(rollout.spec.targetRef.displayName) would route as its file says. Give the Canary's file "
                + "with -f, or, to delete them, start with --forget \(name.displayName)"
        }
    }

    /// The gateway's own admin routes behind the admin token: its configuration, `POST /apply`, the probes, and its
    /// metrics when no controller serves `/metrics` with them in front.
    private static func adminRoutes(
        gateway: GatewayServer, live: LiveConfiguration, readiness: Readiness, access: AdminAccess, servesMetrics: Bool
    ) -> AdminRoutes {
        let routes = AdminRoutes(access: access)
        GatewayAdminRoutes.register(gateway, live: live, on: routes, servesMetrics: servesMetrics)
        AdminSurface.registerProbes(readiness: readiness, on: routes)
        return routes
    }

    /// The controller on gateway metrics (or Prometheus) and the SQLite store, with the stored rollouts loaded.
    private static func restoredController(
        _ options: ControllerOptions, store: SQLiteRolloutStore, gateway: GatewayServer, live: LiveConfiguration,
        history: TelemetryHistory, metrics ownMetrics: ControllerMetricsRegistry
    ) async throws -> CanaryController {
        let metrics = RoutedMetricProvider(
            defaultSource: options.metrics, gateway: GatewayMetricProvider(history: history),
            templates: { await live.metricTemplates },
            workload: { await live.config.workload(serving: $0) }
        )
        let canary = CanaryController(
            adapters: .init(
                router: EmbeddedTrafficRouter(live: live), metrics: metrics, webhooks: HTTPWebhookRunner(), store: store,
                alerts: HTTPAlertSender(endpoints: FileAlertEndpoints { await live.resources }),
                load: PacedSyntheticLoad(sender: GatewaySyntheticRequests(gateway: gateway), logger: options.logger)
            ),
            tickInterval: options.tickInterval, metricsFactory: ownMetrics.factory, logger: options.logger
        )
        try await canary.restore()
        return canary
    }

    /// Hands the files' Canaries to the controller, and every applied set after them.
    private static func admitCanaries(to canary: CanaryController, live: LiveConfiguration, resources: [LocatedResource], logger: Logger) async {
        let reconcile: @Sendable ([CanarySpec], [LocatedResource]) async -> Void = { specs, located in
            for problem in await canary.reconcile(specs) {
                // Where the Canary was written, when it came from a file: the message then names the field to fix.
                let at = Self.written(problem.canary, in: located).flatMap {
                    LiveConfiguration.refusalLocation(problem.message, of: $0.spec, at: $0.located)
                }
                logger.error("\(at.map { "\($0): " } ?? "")\(problem)", metadata: ["canary": "\(problem.canary)"])
            }
        }
        await reconcile(resources.canaries, resources)
        await live.admit { specs, routes in await canary.admission(of: specs, routes: routes) }
        await live.onApply { specs in
            await reconcile(specs, [])
            // Once the apply has ended: setting weights waits for the configuration's turn, which the apply holds.
            Task { await canary.retryRefusedWeights() }
        }
    }

    /// Waits for graceful shutdown (or cancellation), then stops every piece: `serin up` and `serin demo` run
    /// the runtime as one service of their own group.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    public var adminURL: String { "http://\(admin.host):\(admin.port)" }

    /// The Canary `name` as its file has it, when `located` holds that file.
    private static func written(_ name: ResourceName, in located: [LocatedResource]) -> (located: LocatedResource, spec: CanarySpec)? {
        for resource in located {
            if case .canary(let spec) = resource.resource, spec.name == name { return (resource, spec) }
        }
        return nil
    }

    /// Stops the admin endpoint and the controller, then the gateway: requests in flight get up to the
    /// `drainTimeout` given to `start` to finish.
    public func shutdown() async {
        await pieces.stop()
    }
}
