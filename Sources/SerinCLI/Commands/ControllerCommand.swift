import ArgumentParser
import Foundation
import SerinController
import SerinCore
import SerinHTTP
import SerinKubernetes
import SerinListener
import SerinPrometheus
import SerinServer
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

            --flagger-canaries runs Flagger's Canaries (flagger.app/v1beta1) too, read unchanged: stop Flagger             first, two controllers on one Canary fight. Their status holds Flagger's fields; Serin's rollout and             command answers go in the serin.dev/state and serin.dev/last-command annotations.
            Example: serin controller --context kind-istio --prometheus http://127.0.0.1:9090
            """
    )

    @Option(help: ArgumentHelp("The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config; in a pod: the service account).", valueName: "path"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
    var context: String?

    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Watch Canaries in this namespace only (default: all).", valueName: "namespace"))
    var namespace: String?

    @Option(help: ArgumentHelp("The Prometheus holding Istio's metrics.", valueName: "url"))
    var prometheus: String = "http://prometheus.istio-system:9090"

    @Option(help: ArgumentHelp("Where the API, the dashboard and /metrics listen.", valueName: "host:port"))
    var admin: HostPort = HostPort(host: "127.0.0.1", port: 9900)

    @OptionGroup var adminToken: AdminTokenOption

    @Flag(help: "Also run Flagger's Canaries (canaries.flagger.app), unchanged. Stop Flagger first.")
    var flaggerCanaries = false

    @Flag(help: "Share a coordination.k8s.io/v1 Lease with other replicas; only the holder acts.")
    var leaderElect = false

    @Option(help: ArgumentHelp("The Lease's namespace (default: the context's or the pod's namespace).", valueName: "namespace"))
    var leaseNamespace: String?

    @Option(help: ArgumentHelp("The Lease's name.", valueName: "name"))
    var leaseName: String = "serin-controller"

    @Option(help: ArgumentHelp("This replica's name in the Lease (default: the host name, which is the pod's name).", valueName: "name"))
    var identity: String = ProcessInfo.processInfo.hostName

    func validate() throws {
        guard prometheus.hasPrefix("http://") else { throw ValidationError("--prometheus takes http://HOST:PORT, got \"\(prometheus)\"") }
    }

    func run() async throws {
        let connection: KubeConfig.Connection
        do {
            connection = try KubeConfig.connection(kubeconfig: kubeconfig, context: context)
        } catch {
            Terminal.err("serin controller: \(error)")
            throw ExitCode(1)
        }
        let token: String?
        do {
            token = try adminToken.resolve()
        } catch {
            Terminal.err("serin controller: \(error)")
            throw ExitCode(1)
        }
        let access = AdminAccess(token: token, readRequiresToken: false)
        if let problem = access.problem(servingOn: admin.host, port: admin.port) {
            Terminal.err("serin controller: \(problem)")
            throw ExitCode(1)
        }
        let api = try HTTPKubernetesAPI(connection: connection)
        let log: @Sendable (String) -> Void = { Terminal.out("\(Timestamp.now) \($0)") }
        let groups: [CanaryGroup] = flaggerCanaries ? [.serin, .flagger] : [.serin]
        let store = KubernetesRolloutStore(api: api, groups: groups)
        let templates = ClusterMetricTemplates(api: api, namespace: namespace, log: log)
        let controller = CanaryController(
            adapters: .init(
                router: KubernetesTrafficRouter(api: api),
                metrics: RoutedMetricProvider(
                    defaultSource: .prometheus(address: prometheus), gateway: nil, group: MultiThreadedEventLoopGroup.singleton,
                    templates: { await templates.templates }
                ),
                webhooks: HTTPWebhookRunner(), store: store,
                workloads: KubernetesWorkloadReadiness(api: api), deployments: KubernetesWorkloads(api: api)
            ),
            log: log
        )
        let routes = AdminRoutes(access: access)
        let readiness = Readiness()
        AdminSurface.registerProbes(readiness: readiness, on: routes)
        AdminSurface.register(controller, on: routes, servesGateway: false)
        let server: HTTPListener
        do {
            server = try await routes.start(host: admin.host, port: admin.port, group: MultiThreadedEventLoopGroup.singleton)
        } catch {
            Terminal.err("serin controller: cannot listen on \(admin) for the admin API: \(error) (pick another with --admin)")
            throw ExitCode(1)
        }
        Terminal.out(
            "serin controller: \(connection.server.absoluteString) (context \(connection.contextName)), watching Canaries in "
                + (namespace.map { "namespace \($0)" } ?? "every namespace") + "; dashboard on http://\(admin)/"
        )
        let watchNamespace = namespace
        let lead: @Sendable () async -> Void = {
            do {
                try await controller.restore()
            } catch {
                log("error: cannot read the rollouts from Canary status: \(error)")
                return
            }
            let watcher = CanaryWatcher(
                api: api, namespace: watchNamespace, groups: groups, log: log,
                command: CanaryCommandChannel.handler(execute: { await controller.execute($0, canary: $1) }, store: store, log: log),
                workloads: KubernetesWorkloads(api: api),
                refused: { name, message in
                    do { try await store.recordRefusal(message, for: name) } catch { log("\(name.name): cannot write why it was refused: \(error)") }
                }
            ) { specs in await controller.reconcile(specs) }
            let watching = Task { await watcher.run() }
            let watchingTemplates = Task { await templates.run() }
            let running = Task { await controller.run() }
            await withTaskCancellationHandler {
                await watching.value
            } onCancel: {
                watching.cancel()
                watchingTemplates.cancel()
            }
            await watchingTemplates.value
            running.cancel()
            await running.value
        }
        let work: Task<Void, Never>
        if leaderElect {
            let elector = LeaderElector(
                api: api, election: LeaderElection(identity: identity),
                namespace: leaseNamespace ?? connection.namespace, name: leaseName, log: log
            )
            // In a pod (POD_NAME and POD_NAMESPACE from the downward API), the leader labels its pod for the Service.
            let environment = ProcessInfo.processInfo.environment
            if let pod = environment["POD_NAME"], let podNamespace = environment["POD_NAMESPACE"] {
                let label = LeaderPodLabel(api: api, namespace: podNamespace, name: pod, log: log)
                work = Task { await elector.run(lead: label.whileLeading(lead)) }
            } else {
                work = Task { await elector.run(lead: lead) }
            }
        } else {
            work = Task { await lead() }
        }
        // Ready once the API listens: a standby replica is ready too (the Service finds the leader by its label),
        // so a rolling update of the controller's Deployment never waits on an election.
        readiness.markReady()
        let signal = await Signals.waitForTermination()
        readiness.markStopping()
        Terminal.out("serin controller: signal \(signal), stopping")
        work.cancel()
        await work.value
        await server.close()
        await api.shutdown()
        Terminal.out("serin controller: stopped")
    }
}
