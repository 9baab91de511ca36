import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SerinController
import SerinCore
import SerinServer
import SerinKubernetes
import SerinSystem

/// `--kubeconfig`, `--context`, `-n`: talk to Canaries through a Kubernetes cluster's API instead of a Serin's
/// admin address. Any of the three selects the cluster.
struct ClusterOption: ParsableArguments {
    @Option(help: ArgumentHelp("Work on Canaries in a Kubernetes cluster, through this kubeconfig.", valueName: "path"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context); selects the cluster.", valueName: "name"))
    var context: String?

    @Option(
        name: [.customShort("n"), .long],
        help: ArgumentHelp("The Canaries' namespace (default: the context's); selects the cluster.", valueName: "namespace")
    )
    var namespace: String?

    var isSelected: Bool { kubeconfig != nil || context != nil || namespace != nil }
}

/// `--server` or the cluster options, for the commands that read and steer Canaries wherever they run.
struct CanaryEndpoint: ParsableArguments {
    @OptionGroup var server: ServerOption
    @OptionGroup var cluster: ClusterOption

    func validate() throws {
        if cluster.isSelected, server.server != nil {
            throw ValidationError("--server talks to a Serin's admin address, --kubeconfig/--context/-n to a cluster; give one or the other")
        }
    }

    /// The cluster's Canaries when cluster options are given (or `everyNamespace`, -A, which only a cluster has: the
    /// current kubeconfig's, as kubectl takes it), else nil (use `server`).
    func clusterCanaries(everyNamespace: Bool = false) throws -> ClusterCanaries? {
        guard cluster.isSelected || everyNamespace else { return nil }
        do {
            return try ClusterCanaries(option: cluster)
        } catch {
            // Only -n or -A named the cluster: a kubectl habit, where Serin's own rollouts were meant.
            let noCluster = cluster.kubeconfig == nil && cluster.context == nil
            let hint = !noCluster ? ""
                : everyNamespace ? " (-A lists every namespace of a Kubernetes cluster; `serin status` alone lists all of `serin up`'s Canaries, whatever their namespace)"
                : cluster.namespace != nil ? " (-n picks a namespace in a Kubernetes cluster; for `serin up`'s Canaries, leave it out)" : ""
            Terminal.err("error: \(error)" + hint)
            throw ExitCode(1)
        }
    }
}

/// `status`, `history` and the steering commands against Canaries in a Kubernetes cluster. Reads come from
/// each Canary's status (which the controller keeps) and its Events; a command is written on the Canary
/// (`CanaryCommandChannel`) and the controller's answer awaited in its status.
struct ClusterCanaries {
    let api: HTTPKubernetesAPI
    let namespace: String
    let endpoint: String

    init(option: ClusterOption) throws {
        let connection = try KubeConfig.connection(kubeconfig: option.kubeconfig, context: option.context)
        api = try HTTPKubernetesAPI(connection: connection, retryingConnections: false)
        namespace = option.namespace ?? connection.namespace
        endpoint = "\(connection.server.absoluteString) (context \(connection.contextName))"
    }

    /// Runs `body`, then closes the connection; an API failure becomes a printed error and exit status 1.
    func use<T>(_ body: (ClusterCanaries) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await api.shutdown()
            return result
        } catch let exit as ExitCode {
            await api.shutdown()
            throw exit
        } catch {
            await api.shutdown()
            Terminal.err("error: \(explain(error))")
            throw ExitCode(1)
        }
    }

    /// A Canary whose spec the CLI cannot read (the controller refuses it too, saying why on the Canary).
    struct Unreadable: Error {
        var message: String
    }

    private func explain(_ error: any Error) -> String {
        if let unreadable = error as? Unreadable { return unreadable.message }
        guard let apiError = error as? KubernetesAPIError else {
            return "cannot reach the Kubernetes API at \(endpoint): \(Self.transportProblem(error, connectTimeout: api.connectTimeout))"
        }
        switch apiError.code {
        case 401, 403: return "the Kubernetes API at \(endpoint) refused: \(apiError.message) (check the context's credentials and RBAC)"
        default: return "the Kubernetes API at \(endpoint) answered \(apiError)"
        }
    }

    /// What went wrong on the way to the API server, in words: the system's for a socket error ("connection
    /// refused"), what a connect timeout usually means.
    static func transportProblem(_ error: any Error, connectTimeout: Duration) -> String {
        switch ExchangeFailure(error) {
        case .unreachable(let reason), .other(let reason):
            return reason
        case .connectTimeout:
            return "no connection within \(Readable.duration(connectTimeout)) (nothing answers at that address, or it does not speak TLS)"
        case .noAnswerInTime:
            return "no answer in time"
        }
    }

    /// One Canary, or every one in the namespace (all namespaces with `allNamespaces`).
    func statuses(name: String?, allNamespaces: Bool) async throws -> [CanaryStatus] {
        let objects: [JSONValue]
        if let name {
            objects = [try await canary(name)]
        } else {
            objects = try await list(namespace: allNamespaces ? nil : namespace)
        }
        var problems: [String] = []
        let statuses = objects.compactMap { object -> CanaryStatus? in
            switch Self.status(of: object) {
            case .success(let status): return status
            case .failure(let problem):
                problems.append(problem.message)
                return nil
            }
        }
        // The one Canary asked for cannot be shown: that is the answer, not "no Canaries".
        if name != nil, statuses.isEmpty, let problem = problems.first { throw Unreadable(message: problem) }
        for problem in problems { Terminal.err("warning: \(problem)") }
        return statuses
    }

    /// The Canary as the status shows it; one no controller has picked up yet, as its spec starts.
    static func status(of canary: JSONValue) -> Result<CanaryStatus, CanaryWatcher.Problem> {
        let measurements = KubernetesRolloutStore.lastMeasurements(in: canary)
        if let state = CanaryGroup.of(canary).state(in: canary),
            let rollout = try? JSONDecoder().decode(Rollout.self, from: Data(state.utf8))
        {
            var status = CanaryStatus(rollout: rollout, measurements: measurements)
            // A refusal stands over what the last accepted spec did: nothing moves while it does.
            if let refusal = KubernetesRolloutStore.refusal(in: canary) { status.message = CanaryStatus.refusalMessage(refusal) }
            return .success(status)
        }
        return CanaryWatcher.spec(from: canary).flatMap { spec in
            do {
                var status = try CanaryStatus.unstarted(spec)
                status.lastMeasurements = measurements
                status.message = KubernetesRolloutStore.refusal(in: canary).map(CanaryStatus.refusalMessage)
                    ?? "no controller has picked it up yet (is serin controller running?)"
                return .success(status)
            } catch {
                return .failure(CanaryWatcher.Problem(message: "Canary \(spec.name): \(error)"))
            }
        }
    }

    /// Writes `command` on the Canary and waits up to `timeout` for the controller's answer.
    func send(_ command: RolloutCommand, to name: String, timeout: Duration) async throws -> (CanaryCommandChannel.Answer, CanaryStatus?) {
        let id = UUID().uuidString.lowercased()
        var attempt = 0
        while true {
            let current = try await canary(name)
            // One waiting already is carried out when a controller comes: writing this over it would lose it unsaid.
            if let waiting = CanaryCommandChannel.pendingRequest(in: current) {
                Terminal.err(
                    "error: canary/\(name) in namespace \(namespace) already has \(waiting.command) waiting for a controller to answer; "
                        + "nothing was written. It will be carried out when one runs; to drop it instead: kubectl -n \(namespace) annotate "
                        // By its group: with Flagger's CRD installed too, canary/NAME may be kubectl's other one.
                        + "\(CanaryGroup.of(current).resourceName)/\(name) \(CanaryCommandChannel.commandAnnotation)- \(CanaryCommandChannel.idAnnotation)-"
                )
                throw ExitCode(1)
            }
            do {
                let path = CanaryGroup.of(current).path(namespace: namespace, name: name)
                _ = try await api.patch(path, CanaryCommandChannel.request(command, id: id, on: current))
                break
            } catch let error as KubernetesAPIError where error.isConflict && attempt < 5 {
                attempt += 1  // The Canary changed between our read and write (the controller writing status): again.
            }
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = try await canary(name)
            if let answer = CanaryCommandChannel.answer(in: current), answer.id == id {
                return (answer, try? Self.status(of: current).get())
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Terminal.err(
            "error: \(command) is written on canary/\(name) in namespace \(namespace), but no controller answered within "
                + "\(Readable.duration(timeout)); is serin controller running and watching this namespace? "
                + "(kubectl -n serin-system logs deploy/serin-controller). It will be carried out when one does."
        )
        throw ExitCode(1)
    }

    /// The Canary's Events (Serin's, oldest first) and the measurements its status keeps.
    func history(of name: String, limit: Int?) async throws -> CanaryHistory {
        let object = try await canary(name)
        let store = KubernetesRolloutStore(api: api)
        let events = try await store.events(for: ResourceName(namespace: namespace, name: name), limit: limit)
        var measurements = KubernetesRolloutStore.lastMeasurements(in: object)
        if let limit { measurements = Array(measurements.suffix(limit)) }
        let releases = (try? Self.status(of: object).get())?.releases ?? []
        return CanaryHistory(releases: releases, events: events.map(EventView.init), measurements: measurements.map(MeasurementView.init))
    }

    /// Serin's Canaries, and Flagger's where the cluster has that resource (the first wins a shared name, as in
    /// the controller).
    private func list(namespace: String?) async throws -> [JSONValue] {
        var found: [ResourceName: [CanaryGroup: JSONValue]] = [:]
        for group in CanaryGroup.allCases {
            let items: [JSONValue]
            do {
                items = try await api.list(group.path(namespace: namespace)).items
            } catch let error as KubernetesAPIError where (error.isNotFound || error.code == 403) && group != .serin {
                continue  // Flagger's CRD is not installed, or this person may not read it.
            }
            for item in items {
                guard let name = item["metadata"]?["name"]?.stringValue else { continue }
                let key = ResourceName(namespace: item["metadata"]?["namespace"]?.stringValue ?? ResourceName.defaultNamespace, name: name)
                found[key, default: [:]][group] = group.stamped(item)
            }
        }
        // Where both groups hold a name, the one the controller runs.
        return found.sorted { $0.key.description < $1.key.description }.compactMap { _, namesakes in
            CanaryGroup.runner(of: namesakes, in: CanaryGroup.allCases).flatMap { namesakes[$0] }
        }
    }

    private func canary(_ name: String) async throws -> JSONValue {
        var namesakes: [CanaryGroup: JSONValue] = [:]
        for group in CanaryGroup.allCases {
            do {
                namesakes[group] = group.stamped(try await api.get(group.path(namespace: namespace, name: name)))
            } catch let error as KubernetesAPIError where error.isNotFound || (error.code == 403 && group != .serin) {
                continue
            }
        }
        // Where both groups hold the name, the one the controller runs.
        if let runner = CanaryGroup.runner(of: namesakes, in: CanaryGroup.allCases), let canary = namesakes[runner] { return canary }
        let known = (try? await list(namespace: namespace).compactMap { $0["metadata"]?["name"]?.stringValue }) ?? []
        Terminal.err(
            "error: no Canary \(name) in namespace \(namespace)"
                + (known.isEmpty ? " (it has none; -n chooses another)" : " (it has: \(known.sorted().joined(separator: ", ")))")
        )
        throw ExitCode(1)
    }
}
