import ArgumentParser
import Foundation
import Logging
import NIOCore
import SerinCore
import SerinGateway
import SerinServer
import SerinEmbedded
import SerinManifests
import ServiceLifecycle

/// `serin gateway`: serve manifests on Serin's own gateway until stopped.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Serve Gateway and VirtualService manifests on Serin's SwiftNIO gateway.",
        discussion: """
            Each Gateway server port becomes a listener (plus --port-offset). ServiceEntry resources with \
            STATIC endpoints say where each destination host lives. The admin endpoint serves /healthz, \
            /readyz, /config (the live routing table as JSON), /metrics and /openapi.json, and takes \
            `serin apply`. Bound beyond 127.0.0.1 it needs a token (--admin-token-file or SERIN_ADMIN_TOKEN). \
            On SIGHUP it reads the -f manifests again and applies them, as `serin apply -f` would.

            Example: serin gateway -f examples/seed --port-offset 8000
            """
    )

    @OptionGroup var manifests: ManifestOptions
    @OptionGroup var serving: ServingOptions
    @OptionGroup var logging: LogOptions

    func run() async throws {
        await SignalledGroup.trapSignals()
        let hangups = await ManifestReload.trapHangups()
        let logger = logging.logger("gateway")
        let reporter = logging.reporter(logger)
        let (set, _, loadErrors, _) = manifests.load(servingMesh: serving.mesh != nil, reporter: reporter)
        if set.hasErrors || loadErrors > 0 { throw ExitCode(1) }
        if !set.resources.canaries.isEmpty {
            reporter.warning("Canary resources are run by `serin up`; `serin gateway` only serves the routes")
        }
        if serving.mesh == nil, !set.resources.contains(where: { $0.kind == .gateway }) {
            reporter.warning("no Gateway in \(manifests.files.joined(separator: ", ")), so no port listens for traffic until one is applied "
                + "(serin apply -f FILE); or give it with -f (for example: -f examples/seed), or serve the mesh with --mesh HOST:PORT")
        }
        let access = try serving.adminAccessOrExit(reporter: reporter)
        let runtime = try await serving.startOrExit(resources: set.resources, access: access, label: "serin gateway", logger: logger, reporter: reporter)
        let reload = ManifestReload.piece(hangups: hangups, manifests: manifests, live: runtime.live, label: "serin gateway", logger: logger)
        try await serving.runUntilSignalled(
            [runtime, reload], label: "serin gateway", logger: logger,
            ready: "serin gateway: admin on \(runtime.adminURL) (/healthz, /readyz, /config, /metrics, /openapi.json, POST /apply)"
        )
    }
}

/// Where and how the gateway listens: shared by `gateway` and `demo`.
struct ServingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Added to every Gateway server port: with 8000 the seed's port 80 listens on 8080.")
    var portOffset: Int = 0

    @Option(help: ArgumentHelp(
        "The admin endpoint's address (API, dashboard, metrics; default: 127.0.0.1:9900). Anything but loopback needs --admin-token-file or SERIN_ADMIN_TOKEN.",
        valueName: "host:port"
    ), transform: HostPort.parse)
    var admin: HostPort = HostPort(host: "127.0.0.1", port: 9900)

    @OptionGroup var adminToken: AdminTokenOption

    @Flag(help: "Reads of the admin API need the bearer token too (health checks, the page and /openapi.json stay open).")
    var adminReadRequiresToken = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Event-loop threads for the gateway (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: "The address Gateway listeners bind to (0.0.0.0 for every interface).")
    var address: String = "127.0.0.1"

    @Option(help: ArgumentHelp(
        "Also listen here as the mesh's sidecar: clients reach services through it by Host (reviews:9080) or as HTTP_PROXY, routed by the VirtualServices bound to the mesh.",
        valueName: "host:port"
    ), transform: HostPort.parse)
    var mesh: HostPort?

    @OptionGroup var meshWorkload: MeshWorkloadOptions

    @OptionGroup var locality: LocalityOption

    @Option(parsing: .unconditional, help: ArgumentHelp("On SIGTERM or Ctrl-C, how long requests in flight get to finish (seconds, or 30s, 1m).", valueName: "seconds"))
    var drainTimeout = SecondsArgument(15)

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "On SIGTERM or Ctrl-C, keep taking requests this long first, each answered with connection: close, while /readyz answers 503: the time a load balancer needs to stop sending (Envoy Gateway's minDrainDuration). 0: close the listeners at once.",
        valueName: "seconds"
    ))
    var minDrainDuration = SecondsArgument(0)

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Open client connections allowed; more are closed as they are accepted. Default \(GatewayLimits.default.maxConnections), or fewer where the open-file limit (raised to the hard one at start) holds fewer: two descriptors each. A number written here that the limit cannot hold is warned of at start.",
        valueName: "n"
    ))
    var maxConnections: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("A keep-alive client connection with no request in flight is closed after this.", valueName: "seconds"))
    var idleTimeout = SecondsArgument(60)

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "A tunnel (a WebSocket, a TCP route's connection, a TLS passthrough) with no bytes either way is closed after this, unless its DestinationRule's tcp.idleTimeout says otherwise (Istio's default for TCP).",
        valueName: "seconds"
    ))
    var tunnelIdleTimeout = SecondsArgument(3600)

    var limits: GatewayLimits {
        var limits = GatewayLimits.default
        limits.maxConnections = maxConnections ?? limits.maxConnections
        limits.idleTimeout = idleTimeout.timeAmount
        limits.tunnelIdleTimeout = tunnelIdleTimeout.timeAmount
        return limits
    }

    var drain: TimeAmount { drainTimeout.timeAmount }

    var minDrain: TimeAmount { minDrainDuration.timeAmount }

    /// The most event loops a gateway runs: each holds a thread and three descriptors, and past the cores they
    /// only add switching (SwiftNIO asserts when the descriptors run out; this says so first).
    static let maxThreads = 256

    static func validate(threads: Int?) throws {
        guard let threads, !(1...maxThreads).contains(threads) else { return }
        throw ValidationError("--threads must be 1-\(maxThreads) (one per core serves best; this machine has \(System.coreCount)), got \(threads)")
    }

    func validate() throws {
        if adminReadRequiresToken, !adminToken.isGiven {
            throw ValidationError(
                "--admin-read-requires-token needs a token: \(adminToken.emptyVariable.map { "\($0); " } ?? "")pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN")
        }
        try ServingOptions.validate(threads: threads)
        if !(0...3600).contains(drainTimeout.seconds) { throw ValidationError("--drain-timeout must be 0-3600 seconds, got \(drainTimeout)") }
        if !(0...3600).contains(minDrainDuration.seconds) {
            throw ValidationError("--min-drain-duration must be 0-3600 seconds, got \(minDrainDuration)")
        }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1, got \(maxConnections)") }
        if !(0.001...86400).contains(idleTimeout.seconds) { throw ValidationError("--idle-timeout must be 0.001-86400 seconds, got \(idleTimeout)") }
        if !(0.001...604_800).contains(tunnelIdleTimeout.seconds) {
            throw ValidationError("--tunnel-idle-timeout must be 0.001-604800 seconds (a week), got \(tunnelIdleTimeout)")
        }
        if !(-65535...65535).contains(portOffset) { throw ValidationError("--port-offset must be within ±65535, got \(portOffset)") }
        if meshWorkload.isWritten, mesh == nil {
            throw ValidationError("--mesh-labels and --mesh-namespace say whose sidecar the mesh listener is: they need --mesh HOST:PORT")
        }
    }

    /// Who may use the admin listener, asked before anything is started or said to be served: a token that cannot be
    /// read, or a listener beyond loopback without one, is printed and exits 1.
    func adminAccessOrExit(reporter: StartupReporter) throws -> AdminAccess {
        do {
            return try adminToken.access(servingOn: admin, readRequiresToken: adminReadRequiresToken)
        } catch {
            reporter.error("\(error)")
            throw ExitCode(1)
        }
    }

    /// Starts the runtime and prints where each Gateway port listens; a start failure is printed with
    /// the flag that fixes it, and exits 1. `access`: from `adminAccessOrExit`.
    func startOrExit(
        resources: [SerinManifests.LocatedResource], access: AdminAccess, controller: GatewayRuntime.ControllerOptions? = nil, label: String,
        logger: Logger, reporter: StartupReporter
    ) async throws -> GatewayRuntime {
        let runtime: GatewayRuntime
        do {
            runtime = try await GatewayRuntime.start(
                resources: resources, threads: threads ?? System.coreCount, bindHost: address, portMapping: .offset(portOffset),
                mesh: mesh.map { (host: $0.host, port: $0.port) }, meshWorkload: meshWorkload.workload, locality: locality.locality, adminHost: admin.host, adminPort: admin.port,
                adminAccess: access, limits: limits, maxConnectionsWritten: maxConnections != nil, drainTimeout: drain, minDrainDuration: minDrain, logger: logger,
                controller: controller
            )
        } catch let error as GatewayRuntime.StartError {
            reporter.error("\(error)")
            throw ExitCode(1)
        }
        for (declared, bound) in runtime.gateway.boundPorts.sorted(by: { $0.key < $1.key }) {
            logger.info("\(label): Gateway port \(declared) listening on \(address):\(bound)")
        }
        if let mesh, let bound = runtime.gateway.meshAddress?.port {
            // A wildcard address is where it listens, not one a client can name: the hint gives loopback's.
            let reachable = ["0.0.0.0", "::", "[::]"].contains(mesh.host) ? "127.0.0.1" : mesh.host
            logger.info("\(label): mesh listening on \(mesh.host):\(bound) (Host: SERVICE:PORT, or HTTP_PROXY=http://\(reachable):\(bound))")
            let table = runtime.gateway.routes.table
            for (declared, port) in runtime.gateway.boundMeshTCPPorts.sorted(by: { $0.key < $1.key }) {
                let routed = table.meshTLS[declared] != nil ? "TLS, routed by server name" : "plain TCP, routed by port"
                logger.info("\(label): mesh TCP port \(declared) listening on \(mesh.host):\(port) (service port \(declared): \(routed))")
            }
            if !AdminAccess.isLoopback(mesh.host) {
                let warning = "\(label): the mesh listener on \(mesh.host):\(bound) takes requests to every service from anyone who can reach "
                    + "it, with no token, as a sidecar's outbound port would; give --mesh 127.0.0.1:\(mesh.port) unless other machines are to use it"
                logger.warning("\(warning)")
            }
        }
        return runtime
    }

    /// Runs `services` until SIGTERM or Ctrl-C, then stops them last first: for the runtime, the admin
    /// endpoint (after `--min-drain-duration`), the controller, then the gateway, which drains for up to `--drain-timeout`.
    func runUntilSignalled(_ services: [any Service], label: String, logger: Logger, ready: String) async throws {
        let stopping = minDrainDuration.seconds > 0
            ? "taking requests with connection: close for \(minDrainDuration) (/readyz answers 503), then draining for up to \(drainTimeout)"
            : "draining for up to \(drainTimeout)"
        try await SignalledGroup.run(services, label: label, logger: logger, ready: ready, stopping: stopping)
    }
}
