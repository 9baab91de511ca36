import ArgumentParser
import Foundation
import Logging
import SerinController
import SerinCore
import SerinKubernetes
import SerinLifecycle
import SerinListener
import SerinPrometheus
import SerinServer
import SerinSystem
import SerinWebhooks
import NIOPosix

/// `serin controller`: the canary controller in a Kubernetes cluster — Istio's gateway and sidecars move the
/// bytes, Prometheus holds the metrics, the Canary's status holds the state.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run Canary resources in a Kubernetes cluster with Istio: weights in VirtualServices, state in Canary status.",
        discussion: """
            Watches Canaries (serin.dev/v1alpha1; install the CRD from deploy/kubernetes/), moves the weights of \
            the routes each one owns in its VirtualService with guarded JSON Patches (a concurrent edit is kept, \
            never overwritten), judges the canary from Istio's metrics in Prometheus, and writes phase, weight and \
            the rollout itself to the Canary's status, with Kubernetes Events for the story. A restarted \
            controller continues from the status.

            Inside a pod it uses the service account (KUBERNETES_SERVICE_HOST); elsewhere --kubeconfig \
            ($KUBECONFIG or ~/.kube/config) and --context. With --leader-elect, replicas share a Lease and only \
            the holder acts; in a pod with POD_NAME and POD_NAMESPACE set, the holder labels its pod \
            serin.dev/leader=true, which the controller's Service selects. Custom metrics use the \
            MetricTemplates in the cluster (serin.dev or Flagger's flagger.app), read live. The admin address \
            serves the API, the dashboard and /metrics. People steer \
            Canaries through the cluster too: `serin promote web -n default` writes the command on the Canary \
            and the leader answers it in the Canary's status.

            --flagger-canaries runs Flagger's Canaries (flagger.app/v1beta1) too, read unchanged: stop Flagger \
            first, two controllers on one Canary fight. Their status holds Flagger's fields; Serin's rollout and \
            command answers go in the serin.dev/state and serin.dev/last-command annotations.

            Example: serin controller --context kind-istio --prometheus http://127.0.0.1:9090
            """
    )

    @Option(help: ArgumentHelp("The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config; in a pod: the service account).", valueName: "path"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
    var context: String?

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Watch Canaries in this namespace only (default: all).", valueName: "namespace"))
    var namespace: String?

    @Option(help: ArgumentHelp("The Prometheus holding Istio's metrics: http:// or https://, with a path prefix if it has one.", valueName: "url"))
    var prometheus: String = "http://prometheus.istio-system:9090"

    @Option(help: ArgumentHelp("Where the API, the dashboard and /metrics listen (default: 127.0.0.1:9900).", valueName: "host:port"), transform: HostPort.parse)
    var admin: HostPort = HostPort(host: "127.0.0.1", port: 9900)

    @OptionGroup var adminToken: AdminTokenOption
    @OptionGroup var logging: LogOptions

    @Flag(help: "Also run Flagger's Canaries (canaries.flagger.app), unchanged. Stop Flagger first.")
    var flaggerCanaries = false

    @Flag(help: "Share a coordination.k8s.io/v1 Lease with other replicas; only the holder acts.")
    var leaderElect = false

    @Option(help: ArgumentHelp("The Lease's namespace (default: the context's or the pod's namespace).", valueName: "namespace"))
    var leaseNamespace: String?

    @Option(help: ArgumentHelp("The Lease's name.", valueName: "name"))
    var leaseName: String = "serin-controller"

    @Option(help: ArgumentHelp("This replica's name in the Lease; the host name, which in a pod is the pod's name.", valueName: "name"))
    var identity: String = ProcessInfo.processInfo.hostName

    @Option(help: ArgumentHelp(
        "How long each call to the Kubernetes API waits for a connection (a refused one is tried again meanwhile) before it fails and is retried with backoff (1s, doubling up to 30s).",
        valueName: "seconds"))
    var apiConnectTimeout = SecondsArgument(5)

    @Option(help: ArgumentHelp(
        "/readyz answers 503 until the Canaries were read once, and again once the watches of the Kubernetes API have failed this long; /healthz stays 200.",
        valueName: "seconds"))
    var unreadyAfter = SecondsArgument(30)

    func validate() throws {
        if !(0.1...300).contains(apiConnectTimeout.seconds) {
            throw ValidationError("--api-connect-timeout must be 0.1-300 seconds, got \(apiConnectTimeout)")
        }
        if !(0...3600).contains(unreadyAfter.seconds) { throw ValidationError("--unready-after must be 0-3600 seconds, got \(unreadyAfter)") }
        if let problem = PrometheusAddress.problem(with: prometheus) { throw ValidationError("--prometheus: \(problem)") }
    }

    func run() async throws {
        await SignalledGroup.trapSignals()
        let logger = logging.logger("controller")
        let (connection, access) = try settings(logging.reporter(logger))
        let api = try HTTPKubernetesAPI(connection: connection, connectTimeout: .seconds(apiConnectTimeout.seconds))
        let store = KubernetesRolloutStore(api: api, groups: groups)
        let templates = ClusterMetricTemplates(api: api, namespace: namespace, logger: logger)
        let ownMetrics = ControllerMetricsRegistry()
        let controller = canaryController(api: api, store: store, templates: templates, metrics: ownMetrics, logger: logger)
        // A standby replica is ready while it reaches the Lease (the Service finds the leader by its label), so a
        // rolling update of the controller's Deployment never waits on an election; the leader once it has read its
        // Canaries, and while the API server answers its watches.
        let cluster = ClusterReadiness(leading: !leaderElect, patience: .seconds(unreadyAfter.seconds))
        let readiness = Readiness { cluster.notReadyReason }
        let server = try await serveAdmin(controller, metrics: ownMetrics, readiness: readiness, access: access, reporter: logging.reporter(logger))
        readiness.markReady()
        let lead = leading(controller, api: api, store: store, templates: templates, readiness: cluster, logger: logger)
        let watching = namespace.map { "namespace \($0)" } ?? "every namespace"
        // Stopped last first: not ready, no more leading (the watchers, then the controller), the admin API, the client.
        try await SignalledGroup.run([
            ServicePiece.stopping("Kubernetes client") { await api.shutdown() },
            ServicePiece.stopping("admin endpoint") { await server.close() },
            ServicePiece.loop("leadership", leadership(api: api, connection: connection, readiness: cluster, logger: logger, lead: lead)),
            ServicePiece.stopping("readiness") { readiness.markStopping() },
        ], label: "serin controller", logger: logger, ready: "serin controller: \(connection.server.absoluteString) "
            + "(context \(connection.contextName)), watching Canaries in \(watching); dashboard on http://\(admin)/")
    }

    private var groups: [CanaryGroup] { flaggerCanaries ? [.serin, .flagger] : [.serin] }

    /// The reconcile loop on the cluster: weights in VirtualServices, metrics from Prometheus (and the cluster's
    /// MetricTemplates), state in Canary status.
    private func canaryController(
        api: HTTPKubernetesAPI, store: KubernetesRolloutStore, templates: ClusterMetricTemplates,
        metrics: ControllerMetricsRegistry, logger: Logger
    ) -> CanaryController {
        CanaryController(
            adapters: .init(
                router: KubernetesTrafficRouter(api: api),
                metrics: RoutedMetricProvider(
                    defaultSource: .prometheus(address: prometheus), gateway: nil,
                    templates: { await templates.templates }, credentials: { await templates.credentials(for: $0) }
                ),
                webhooks: HTTPWebhookRunner(), store: store,
                workloads: KubernetesWorkloadReadiness(api: api), deployments: KubernetesWorkloads(api: api),
                alerts: HTTPAlertSender(endpoints: ClusterAlertEndpoints(api: api)),
                load: PacedSyntheticLoad(sender: HTTPSyntheticRequests(), logger: logger)
            ),
            metricsFactory: metrics.factory, logger: logger
        )
    }

    /// What the leader runs, until its term ends: the rollouts from Canary status, then the controller, the
    /// MetricTemplates and the Canaries. They stop last first: the watchers, then the controller, which ends the
    /// step it is in, so no write is left half done.
    private func leading(
        _ controller: CanaryController, api: HTTPKubernetesAPI, store: KubernetesRolloutStore, templates: ClusterMetricTemplates,
        readiness: ClusterReadiness, logger: Logger
    ) -> @Sendable () async -> Void {
        let (namespace, groups, leaderElect) = (self.namespace, self.groups, self.leaderElect)
        return {
            readiness.leading(true)
            defer { if leaderElect { readiness.leading(false) } }
            // An API server not answering yet (the controller's pod started first, a network blip) is waited for,
            // with backoff, as the watchers wait for theirs: ending here would end the process.
            var backoff = Backoff(first: .seconds(1))
            while true {
                let started = ContinuousClock.now
                do {
                    try await controller.restore()
                    break
                } catch {
                    if Task.isCancelled { return }
                    let why = Self.restoreProblem(error, api: api, took: ContinuousClock.now - started)
                    readiness.failed(nil, why)
                    logger.error(
                        "cannot read the rollouts from Canary status: \(why); trying again in \(Readable.duration(backoff.next))", error: error)
                    await backoff.wait()
                    if Task.isCancelled { return }
                }
            }
            // A new term starts afresh: what the last one said and handed over may have changed since.
            let watcher = CanaryWatcher(
                api: api, namespace: namespace, groups: groups, logger: logger,
                command: CanaryCommandChannel.handler(execute: { await controller.execute($0, canary: $1) }, store: store, logger: logger),
                workloads: KubernetesWorkloads(api: api),
                refused: { name, namesake, message in
                    do { try await store.recordRefusal(message, for: name, namesake: namesake) } catch {
                        logger.error("\(name.displayName): cannot write why it was refused: \(error)", error: error, metadata: ["canary": "\(name)"])
                    }
                },
                readiness: readiness, forgotten: { await controller.forgotten($0) },
                told: { name, events, canary in
                    do { try await store.record(events, about: canary) } catch {
                        logger.error("Canary \(name): cannot tell its revert on deletion as Events: \(error)", error: error, metadata: ["canary": "\(name)"])
                    }
                }
            ) { specs in await controller.reconcile(specs) }
            await PieceGroup([
                .loop("canary controller") { await controller.run() },
                .loop("metric templates") { await templates.run() },
                .loop("canary watcher") { await watcher.run() },
            ], logger: logger).runUntilCancelled()
        }
    }

    /// Why the first read failed, as the commands say it (the address, and the system's words for what went wrong),
    /// with how long the attempt took: a connection that never came is waited for up to --api-connect-timeout.
    static func restoreProblem(_ error: any Error, api: HTTPKubernetesAPI, took: Duration) -> String {
        let server = "\(api.connection.server.absoluteString) (context \(api.connection.contextName))"
        if let answer = error as? KubernetesAPIError { return "the Kubernetes API at \(server) answered \(answer)" }
        let problem = ClusterCanaries.transportProblem(error, connectTimeout: api.connectTimeout)
        let tenths = Duration.milliseconds(took.components.seconds * 1000 + took.components.attoseconds / 100_000_000_000_000_000 * 100)
        return "cannot reach the Kubernetes API at \(server): \(problem) (the attempt gave up after \(Readable.duration(tenths)))"
    }

    /// The kubeconfig's connection and who may use the admin API; a problem with either is said and exits 1.
    private func settings(_ reporter: StartupReporter) throws -> (KubeConfig.Connection, AdminAccess) {
        do {
            let connection = try KubeConfig.connection(kubeconfig: kubeconfig, context: context)
            let access = try adminToken.access(servingOn: admin, readRequiresToken: false)
            return (connection, access)
        } catch {
            reporter.error("serin controller: \(error)")
            throw ExitCode(1)
        }
    }

    /// `lead` at once, or — with --leader-elect — while this replica holds the Lease; in a pod (POD_NAME and
    /// POD_NAMESPACE from the downward API) the leader labels its pod for the Service.
    private func leadership(
        api: HTTPKubernetesAPI, connection: KubeConfig.Connection, readiness: ClusterReadiness, logger: Logger,
        lead: @escaping @Sendable () async -> Void
    ) -> @Sendable () async -> Void {
        guard leaderElect else { return lead }
        let elector = LeaderElector(
            api: api, election: LeaderElection(identity: identity), namespace: leaseNamespace ?? connection.namespace, name: leaseName,
            logger: logger, readiness: readiness
        )
        let environment = ProcessInfo.processInfo.environment
        guard let pod = environment["POD_NAME"], let podNamespace = environment["POD_NAMESPACE"] else {
            return { await elector.run(lead: lead) }
        }
        let label = LeaderPodLabel(api: api, namespace: podNamespace, name: pod, logger: logger)
        return { await elector.run(lead: label.whileLeading(lead)) }
    }

    /// The API, the dashboard and /metrics on --admin.
    private func serveAdmin(
        _ controller: CanaryController, metrics: ControllerMetricsRegistry, readiness: Readiness, access: AdminAccess,
        reporter: StartupReporter
    ) async throws -> HTTPListener {
        let routes = AdminRoutes(access: access)
        AdminSurface.registerProbes(readiness: readiness, on: routes)
        AdminSurface.register(controller, metrics: metrics, on: routes)
        AdminSurface.registerDocument(on: routes)
        do {
            return try await routes.start(host: admin.host, port: admin.port, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            reporter.error("serin controller: cannot listen on \(admin) for the admin API: \(TransportErrorText.describe(error)) (pick another with --admin)")
            throw ExitCode(1)
        }
    }
}
