import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinGateway
import SerinListener
import SerinManifests
import SerinServer
import SerinPrometheus
import SerinStore
import SerinWebhooks

/// Embedded mode, assembled: the gateway, its admin endpoint, the live configuration behind `apply`,
/// and — for `serin up` — the canary controller with gateway metrics and a SQLite state file.
public final class GatewayRuntime: Sendable {
    public let gateway: GatewayServer
    public let live: LiveConfiguration
    public let admin: HTTPListener
    public let controller: CanaryController?
    public let history: TelemetryHistory
    private let background: [Task<Void, Never>]
    private let readiness: Readiness

    /// The controller's settings, for `serin up`.
    public struct ControllerOptions: Sendable {
        /// The SQLite state file (`./.serin/state.sqlite` by default).
        public var statePath: String
        public var tickInterval: Duration
        /// Where the built-in metrics come from.
        public var metrics: MetricSource
        /// Where event lines go.
        public var log: @Sendable (String) -> Void
        /// How often a quiet `/events` stream gets a comment line.
        public var eventKeepAlive: Duration

        public init(
            statePath: String, tickInterval: Duration = .milliseconds(100), metrics: MetricSource = .gateway,
            eventKeepAlive: Duration = .seconds(15), log: @escaping @Sendable (String) -> Void
        ) {
            self.statePath = statePath
            self.tickInterval = tickInterval
            self.metrics = metrics
            self.eventKeepAlive = eventKeepAlive
            self.log = log
        }
    }


    private init(
        gateway: GatewayServer, live: LiveConfiguration, admin: HTTPListener, controller: CanaryController?,
        history: TelemetryHistory, background: [Task<Void, Never>], readiness: Readiness
    ) {
        self.readiness = readiness
        self.gateway = gateway
        self.live = live
        self.admin = admin
        self.controller = controller
        self.history = history
        self.background = background
    }

    /// Why the runtime did not start, with the flag that fixes it.
    public enum StartError: Error, CustomStringConvertible {
        case gateway(GatewayError)
        case admin(address: String, underlying: any Error)
        case state(any Error)
        /// Bound beyond loopback without a token.
        case adminAccess(String)

        public var description: String {
            switch self {
            case .gateway(let error):
                return "\(error); pick other ports with --port-offset N"
            case .admin(let address, let underlying):
                return "cannot serve the admin endpoint on \(address): \(underlying); pick another with --admin HOST:PORT"
            case .state(let error):
                return "\(error)"
            case .adminAccess(let problem):
                return problem
            }
        }
    }

    /// Binds every Gateway port and the admin endpoint, and starts the controller when asked;
    /// on failure nothing is left listening.
    public static func start(
        resources: [LocatedResource], threads: Int, bindHost: String, portMapping: GatewayServer.PortMapping,
        adminHost: String, adminPort: Int, adminAccess: AdminAccess = .open, limits: GatewayLimits = .default,
        controller controllerOptions: ControllerOptions? = nil
    ) async throws -> GatewayRuntime {
        if let problem = adminAccess.problem(servingOn: adminHost, port: adminPort) { throw StartError.adminAccess(problem) }
        // The stored rollouts' weights are in the first routing table the gateway serves: the files may still
        // route to a version a promotion retired, and not one request may reach it before the controller runs.
        var store: SQLiteRolloutStore?
        var served = resources
        if let options = controllerOptions {
            do {
                let opened = try SQLiteRolloutStore(path: options.statePath)
                served = LiveConfiguration.routing(resources, as: Array(try opened.loadRollouts().values))
                store = opened
            } catch {
                throw StartError.state(error)
            }
        }
        let gateway = GatewayServer(threads: threads, bindHost: bindHost, portMapping: portMapping, limits: limits)
        let live = LiveConfiguration(gateway: gateway, resources: served)
        let history = TelemetryHistory(telemetry: gateway.telemetry)
        do {
            try await live.installCurrent()
        } catch let error as GatewayError {
            await gateway.shutdown()
            throw StartError.gateway(error)
        }
        let routes = AdminRoutes(access: adminAccess)
        let readiness = Readiness()
        GatewayAdminRoutes.register(gateway, live: live, on: routes, servesMetrics: controllerOptions == nil)
        AdminSurface.registerProbes(readiness: readiness, on: routes)

        var controller: CanaryController?
        var background: [Task<Void, Never>] = [Task { await history.sample(every: .milliseconds(250)) }]
        if let options = controllerOptions, let store {
            do {
                let metrics = RoutedMetricProvider(
                    defaultSource: options.metrics, gateway: GatewayMetricProvider(history: history), group: gateway.group,
                    templates: { await live.metricTemplates },
                    workload: { await live.config.workload(serving: $0) }
                )
                let canary = CanaryController(
                    adapters: .init(
                        router: EmbeddedTrafficRouter(live: live), metrics: metrics,
                        webhooks: HTTPWebhookRunner(), store: store
                    ),
                    tickInterval: options.tickInterval, log: options.log
                )
                try await canary.restore()
                controller = canary
            } catch {
                for task in background { task.cancel() }
                await gateway.shutdown()
                throw StartError.state(error)
            }
            AdminSurface.register(
                controller!, on: routes, servesGateway: true, eventKeepAlive: options.eventKeepAlive,
                metricsBefore: { GatewayAdmin.metricsText(gateway) })
        }

        let admin: HTTPListener
        do {
            admin = try await routes.start(host: adminHost, port: adminPort, group: gateway.group)
        } catch {
            for task in background { task.cancel() }
            await gateway.shutdown()
            throw StartError.admin(address: "\(adminHost):\(adminPort)", underlying: error)
        }
        // Rollouts start only once everything listens, so a failed start changes no stored state.
        if let canary = controller, let options = controllerOptions {
            background.append(Task { await canary.run() })
            for problem in await canary.reconcile(Self.embeddable(resources.canaries, log: options.log)) { options.log("error: \(problem)") }
            await live.admit { specs, routes in
                var admission = await canary.admission(of: specs, routes: routes)
                for spec in specs where spec.workload != nil { admission.refused[spec.name] = Self.workloadRefusal(spec) }
                return admission
            }
            await live.onApply { specs in
                for problem in await canary.reconcile(Self.embeddable(specs, log: options.log)) { options.log("error: \(problem)") }
            }
        }
        readiness.markReady()
        return GatewayRuntime(
            gateway: gateway, live: live, admin: admin, controller: controller, history: history, background: background,
            readiness: readiness
        )
    }

    public var adminURL: String { "http://\(admin.host):\(admin.port)" }

    /// The Canaries embedded mode can run: one on a Deployment (Flagger's shape) needs Kubernetes, and is said so.
    static func embeddable(_ specs: [CanarySpec], log: @Sendable (String) -> Void) -> [CanarySpec] {
        for spec in specs where spec.workload != nil { log("error: Canary \(spec.name.name): \(workloadRefusal(spec))") }
        return specs.filter { $0.workload == nil }
    }

    static func workloadRefusal(_ spec: CanarySpec) -> String {
        "targetRef is Deployment \(spec.workload?.deployment ?? ""): Serin creates and scales Deployments only on Kubernetes "
            + "(serin controller); on this gateway, point targetRef at a VirtualService with stable and canary destinations"
    }

    /// Stops the admin endpoint and the controller, then the gateway: requests in flight get up to
    /// `drainTimeout` to finish. Returns how many client connections had to be cut.
    @discardableResult
    public func shutdown(drainTimeout: TimeAmount = .zero) async -> Int {
        readiness.markStopping()
        // The admin endpoint first: an answer in flight may wait on the controller, which still runs.
        await admin.close()
        for task in background { task.cancel() }
        // A step in progress may still move weights: let it end before the gateway's event loops go.
        for task in background { await task.value }
        return await gateway.shutdown(drainTimeout: drainTimeout)
    }
}
