import Logging
import Foundation
import SerinCore
import SerinManifests

/// Keeps the controller's Canaries in step with the cluster's (a `ResourceWatch` of canaries.serin.dev, and of
/// Flagger's canaries.flagger.app when asked) and hands the whole current set to the controller after every
/// change.
/// Commands people write on a Canary (`CanaryCommandChannel`) are handed over once each, after the specs. A deleted
/// Canary runs no more; one with Flagger's `revertOnDeletion` is reverted before its finalizer comes off
/// (`RevertOnDeletion`), and the revert is told on it as Events (`RevertNarration`).
public actor CanaryWatcher {
    private let api: any KubernetesAPI
    private let namespace: String?
    private let logger: Logger
    private let apply: @Sendable ([CanarySpec]) async -> [CanaryProblem]
    private let command: (@Sendable (CanaryCommandChannel.Request) async -> Void)?
    private let workloads: KubernetesWorkloads?
    private let configResync: Duration
    private let revertRetry: Duration
    private let forgotten: (@Sendable (ResourceName) async -> Void)?
    /// What was last said of each Canary's finalizer or revert, so each problem or wait is said once.
    private var finalizing: [ResourceName: String] = [:]
    /// Whether a finalizer could not be set or a revert is not done: the sync is asked for again (`revertRetry`).
    private var finalizingPending = false
    /// What each revert on deletion has told on its Canary so far, so each step and each failure is told once.
    private var narrations: [ResourceName: RevertNarration] = [:]
    private let told: (@Sendable (ResourceName, [RolloutEvent], JSONValue) async -> Void)?
    private let groups: [CanaryGroup]
    private let readiness: ClusterReadiness?
    private var objects: [CanaryGroup: [ResourceName: JSONValue]] = [:]
    private let refused: (@Sendable (ResourceName, CanaryGroup?, String?) async -> Void)?
    /// The problem said for each Canary, so each is said (and written on the Canary) once, and cleared once.
    private var reported: [ResourceName: String] = [:]
    /// The last request handed over per Canary, so one whose answer is still being written is not run twice.
    private var handedOver: [ResourceName: String] = [:]
    /// Asks the one syncing task to sync again; requests made while it syncs fold into one (newest state last).
    /// A watch only asks: it never waits for a sync, so a long sync (preparing a workload, a command) never holds
    /// up the watch that asked for it.
    private let syncRequests: AsyncStream<Void>
    private let requestSync: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - namespace: the namespace to watch; nil for all.
    ///   - groups: the Canary resources to run; where a namespace has one name in both, `CanaryGroup.runner` says
    ///     which runs (the first, unless the other holds a release).
    ///   - apply: gives the controller the current specs (`CanaryController.reconcile`) and returns its problems.
    ///   - refused: shows a Canary's problem where its owner looks (`KubernetesRolloutStore.recordRefusal`), and
    ///     clears it (nil) once the Canary is accepted; a group names a namesake that does not run, nil the one that
    ///     does.
    ///   - command: carries out a person's command and answers it (`CanaryCommandChannel.handler`); nil ignores them.
    ///   - workloads: prepares Canaries on a Deployment (Flagger's shape) and watches Deployments for new revisions;
    ///     nil leaves such Canaries out, with a problem.
    ///   - configResync: how often the ConfigMaps and Secrets such a Deployment reads are read again for a new
    ///     revision. Read, not watched: watching every Secret in the cluster would put them all in this process.
    ///   - readiness: told once every Canary resource was read, and how the watches fare (`/readyz`).
    ///   - forgotten: returns once the controller has carried out what it decided for a Canary no longer given and
    ///     forgotten it (`CanaryController.forgotten`), so a revert on deletion comes after its last weights.
    ///   - revertRetry: how often a revert on deletion that failed or waits for its target is tried again.
    ///   - told: tells a revert on deletion's steps as Events about the Canary, named and as last seen
    ///     (`KubernetesRolloutStore.record`); nil tells them only in the log.
    public init(
        api: any KubernetesAPI, namespace: String?, groups: [CanaryGroup] = [.serin], logger: Logger,
        command: (@Sendable (CanaryCommandChannel.Request) async -> Void)? = nil,
        workloads: KubernetesWorkloads? = nil, configResync: Duration = .seconds(15),
        refused: (@Sendable (ResourceName, CanaryGroup?, String?) async -> Void)? = nil, readiness: ClusterReadiness? = nil,
        forgotten: (@Sendable (ResourceName) async -> Void)? = nil, revertRetry: Duration = .seconds(5),
        told: (@Sendable (ResourceName, [RolloutEvent], JSONValue) async -> Void)? = nil,
        apply: @escaping @Sendable ([CanarySpec]) async -> [CanaryProblem]
    ) {
        self.told = told
        self.refused = refused
        self.readiness = readiness
        self.api = api
        self.workloads = workloads
        self.configResync = configResync
        self.forgotten = forgotten
        self.revertRetry = revertRetry
        self.namespace = namespace
        self.groups = groups
        self.logger = logger
        self.command = command
        self.apply = apply
        (syncRequests, requestSync) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in self.syncRequests { await self.sync() }
            }
            for group in groups {
                let watch = ResourceWatch(
                    api: api, collection: group.path(namespace: namespace), label: group.resourceName, logger: logger,
                    missingIsEmpty: group == .flagger, readiness: readiness)
                tasks.addTask { await watch.run { objects in await self.changed(group, objects) } }
            }
            // A revert on deletion that failed, or waits for its target, is tried again.
            tasks.addTask { await self.resync(every: self.revertRetry) { await self.finalizingPending } }
            guard workloads != nil else { return }
            // A change of a target Deployment's pod template is a new revision: Deployments are watched too.
            let deployments = ResourceWatch(
                api: api, collection: .deployments(namespace: namespace), label: "deployments", logger: logger, readiness: readiness)
            tasks.addTask { await deployments.run { _ in self.requestSync.yield() } }
            // A ConfigMap or Secret a target reads changes no Deployment: its content is read again now and then,
            // while there is a Canary on a Deployment to read it for.
            tasks.addTask { await self.resync(every: self.configResync) { await self.runsWorkloads } }
        }
    }

    /// Asks for a sync every `period` while `wanted` says so, until the task is cancelled.
    private nonisolated func resync(every period: Duration, while wanted: @Sendable () async -> Bool) async {
        while (try? await Task.sleep(for: period)) != nil {
            if await wanted() { requestSync.yield() }
        }
    }

    private func changed(_ group: CanaryGroup, _ objects: [ResourceName: JSONValue]) async {
        self.objects[group] = objects.mapValues(group.stamped)
        requestSync.yield()
    }

    /// Every Canary to run, by name, and the namesakes that do not run: where both groups hold a name, the one
    /// `CanaryGroup.runner` picks runs and the other is told why it does not.
    private func current() -> (canaries: [(ResourceName, JSONValue)], namesakes: [Namesake: String]) {
        var byName: [ResourceName: [CanaryGroup: JSONValue]] = [:]
        for group in groups {
            for (name, object) in objects[group] ?? [:] { byName[name, default: [:]][group] = object }
        }
        var canaries: [(ResourceName, JSONValue)] = []
        var namesakes: [Namesake: String] = [:]
        for (name, objects) in byName.sorted(by: { $0.key.description < $1.key.description }) {
            guard let runner = CanaryGroup.runner(of: objects, in: groups), let object = objects[runner] else { continue }
            canaries.append((name, object))
            for other in groups where other != runner && objects[other] != nil {
                namesakes[Namesake(name: name, group: other)] = CanaryGroup.namesakeRefusal(name, runner: runner, other: other)
            }
        }
        return (canaries, namesakes)
    }

    /// A Canary that does not run because its namesake in the other group does.
    struct Namesake: Hashable {
        let name: ResourceName
        let group: CanaryGroup
    }

    /// Why each namesake does not run, as last written on it.
    private var reportedNamesakes: [Namesake: String] = [:]

    /// Whether the last sync saw a Canary on a Deployment (Flagger's shape), prepared or refused: both are
    /// looked at again when the resync comes (new config content; a refusal's cause removed).
    private var runsWorkloads = false

    /// Hands the current Canaries over, says what is wrong with the others, and passes on the commands
    /// written on them. Run by the one syncing task only, so syncs never overlap.
    private func sync() async {
        // Until every group has listed, a Canary not seen yet is not a deleted one: nothing is handed over.
        guard objects.count == groups.count else { return }
        readiness?.canariesRead()
        let (current, namesakes) = self.current()
        // A deleted Canary is not run: the controller forgets its rollout, and a revert it asks for comes after.
        let running = current.filter { !RevertOnDeletion.isDeleted($0.1) }
        var (specs, problems) = await runnableSpecs(running)
        problems += await apply(specs)
        await report(problems, present: Set(running.map(\.0)))
        await report(namesakes, running: current)
        await finalize(runners: current)
        await handOverCommands(running)
    }

    /// Flagger's `revertOnDeletion` (`RevertOnDeletion`), for every Canary of every group: the finalizer added where it
    /// is asked for, taken off where it no longer is, and a deleted Canary reverted before it comes off, each step told
    /// on it once. What fails, or waits for the target, keeps the finalizer and is said once; the sync is asked for
    /// again after `revertRetry`.
    private func finalize(runners: [(ResourceName, JSONValue)]) async {
        let revert = DeletionRevert(api: api)
        let running = Dictionary(runners.map { ($0.0, CanaryGroup.of($0.1)) }, uniquingKeysWith: { first, _ in first })
        var pending = false
        for group in groups {
            for (name, canary) in (objects[group] ?? [:]).sorted(by: { $0.key.description < $1.key.description }) {
                guard let step = RevertOnDeletion.step(for: canary, runs: running[name] == group) else { continue }
                let path = group.path(namespace: name.namespace, name: name.name)
                let said: String
                var steps: [DeletionRevert.Step] = []
                do {
                    switch step {
                    case .addFinalizer, .removeFinalizer:
                        try await revert.setFinalizer(step == .addFinalizer, on: canary, at: path)
                        continue
                    case .revert:
                        await forgotten?(name)
                        let outcome = try await revert.revert(name, group: group, steps: &steps)
                        await tell(steps, failure: nil, about: canary, name)
                        switch outcome {
                        case .done(let what):
                            logger.notice("Canary \(name) deleted with spec.revertOnDeletion: \(what); finalizer \(group.finalizer) removed",
                                          metadata: ["canary": "\(name)"])
                            finalizing[name] = nil
                            continue
                        case .gone:
                            finalizing[name] = nil
                            continue
                        case .waiting(let reason):
                            said = "Canary \(name) deleted with spec.revertOnDeletion: \(reason)"
                        }
                    }
                } catch {
                    let problem = "cannot \(step.doing): \(error); Serin tries again every \(Readable.duration(revertRetry))"
                        + (step != .revert ? "" : "; until then it keeps its finalizer \(group.finalizer): to delete it without the revert, take "
                            + "\(group.finalizer) out of its metadata.finalizers (kubectl edit \(group.resourceName) \(name.name) -n \(name.namespace))")
                    said = "Canary \(name): \(problem)"
                    if step == .revert { await tell(steps, failure: problem, about: canary, name) }
                }
                pending = true
                if finalizing[name] != said {
                    logger.warning("\(said)", metadata: ["canary": "\(name)"])
                    finalizing[name] = said
                }
            }
        }
        finalizingPending = pending
        // A Canary gone (reverted, or its finalizer taken off by hand) has nothing more to tell.
        narrations = narrations.filter { name, _ in groups.contains { objects[$0]?[name] != nil } }
    }

    /// Tells what a revert on deletion's attempt did, and how it failed, as Events about `canary`: each only once.
    private func tell(_ steps: [DeletionRevert.Step], failure: String?, about canary: JSONValue, _ name: ResourceName) async {
        var narration = narrations[name] ?? RevertNarration(canary: name)
        let now = RolloutInstant(sinceEpoch: .nanoseconds(Int64(Date().timeIntervalSince1970 * 1_000_000_000)))
        let events = narration.events(for: steps, failure: failure, at: now)
        narrations[name] = narration
        guard !events.isEmpty else { return }
        await told?(name, events, canary)
    }

    /// Tells each namesake that does not run why, once. One that runs now (its namesake was deleted) has the
    /// message taken back, or replaced by its own problem.
    private func report(_ namesakes: [Namesake: String], running: [(ResourceName, JSONValue)]) async {
        for (namesake, message) in namesakes.sorted(by: { $0.key.name.description < $1.key.name.description })
        where reportedNamesakes[namesake] != message {
            logger.warning("\(message)", metadata: ["canary": "\(namesake.name)"])
            await refused?(namesake.name, namesake.group, message)
        }
        let runners = Dictionary(running.map { ($0.0, CanaryGroup.of($0.1)) }, uniquingKeysWith: { first, _ in first })
        for namesake in reportedNamesakes.keys where namesakes[namesake] == nil && runners[namesake.name] == namesake.group {
            await refused?(namesake.name, nil, reported[namesake.name])
        }
        reportedNamesakes = namesakes
    }

    /// The spec of every Canary that can run (its Deployment's revision prepared), and why each other cannot.
    private func runnableSpecs(_ current: [(ResourceName, JSONValue)]) async -> ([CanarySpec], [CanaryProblem]) {
        var specs: [CanarySpec] = []
        var problems: [CanaryProblem] = []
        runsWorkloads = false
        for (name, object) in current {
            switch Self.spec(from: object) {
            case .success(let spec) where spec.analysis.stickiness != nil:
                problems.append(CanaryProblem(canary: name, message: Self.stickinessRefusal(spec)))
            case .success(let spec) where spec.workload != nil:
                runsWorkloads = true
                guard let workloads else {
                    problems.append(CanaryProblem(
                        canary: name, message: "Canary \(spec.name): a targetRef of kind Deployment needs the controller's Deployment support"))
                    continue
                }
                switch await workloads.prepare(spec, canary: object) {
                case .success(let prepared): specs.append(prepared)
                case .failure(let failure): problems.append(CanaryProblem(canary: name, message: failure.message))
                }
            case .success(let spec): specs.append(spec)
            case .failure(let failure): problems.append(CanaryProblem(canary: name, message: failure.message))
            }
        }
        return (specs, problems)
    }

    /// Says each problem once, not after every change of another Canary, and clears it once it is solved.
    private func report(_ problems: [CanaryProblem], present names: Set<ResourceName>) async {
        var now: [ResourceName: String] = [:]
        for problem in problems { now[problem.canary] = now[problem.canary].map { "\($0); \(problem.message)" } ?? problem.message }
        for (name, message) in now.sorted(by: { $0.key.description < $1.key.description }) where reported[name] != message {
            logger.warning("\(message)", metadata: ["canary": "\(name)"])
            await refused?(name, nil, message)
        }
        for name in reported.keys.sorted(by: { $0.description < $1.description }) where now[name] == nil && names.contains(name) {
            await refused?(name, nil, nil)
        }
        reported = now
    }

    /// Passes each command written on a Canary (`serin.dev/command`) to the controller once.
    private func handOverCommands(_ current: [(ResourceName, JSONValue)]) async {
        guard let command else { return }
        for (name, object) in current {
            guard let request = CanaryCommandChannel.pendingRequest(in: object), handedOver[name] != request.id else { continue }
            handedOver[name] = request.id
            await command(request)
        }
        let names = Set(current.map(\.0))
        handedOver = handedOver.filter { names.contains($0.key) }
    }

    /// Why a Canary in the cluster could not be read, with its name and the field.
    public struct Problem: Error, Equatable {
        public let message: String

        public init(message: String) { self.message = message }
    }

    /// Why a Canary with `analysis.stickiness` does not run in Kubernetes mode: Istio cannot keep its promise.
    static func stickinessRefusal(_ spec: CanarySpec) -> String {
        "Canary \(spec.name): analysis.stickiness (\(spec.analysis.stickiness.map(String.init(describing:)) ?? "")) cannot be expressed in Istio: "
            + "Envoy picks the weighted destination before any hash, so a key could move back from canary to stable; "
            + "run this Canary on Serin's gateway (serin up), or remove analysis.stickiness; nothing was changed"
    }

    /// The spec of a Canary object, decoded by the same decoder as the YAML files of embedded mode.
    public static func spec(from object: JSONValue) -> Result<CanarySpec, Problem> {
        decode(object, kind: "Canary", defaultAPIVersion: "serin.dev/v1alpha1") { $0.canaries.first }
    }

    /// An API object of `kind` read by the manifest decoder, as `serin validate` reads the same resource in a file;
    /// the problem names the object and the fields.
    static func decode<Value>(
        _ object: JSONValue, kind: String, defaultAPIVersion: String, _ pick: ([LocatedResource]) -> Value?
    ) -> Result<Value, Problem> {
        guard let name = ResourceWatch.name(of: object) else { return .failure(Problem(message: "a \(kind) without metadata.name")) }
        let document: JSONValue = [
            "apiVersion": object["apiVersion"] ?? .string(defaultAPIVersion), "kind": .string(kind),
            "metadata": ["name": .string(name.name), "namespace": .string(name.namespace)], "spec": object["spec"] ?? [:],
        ]
        let text = String(decoding: (try? JSONEncoder().encode(document)) ?? Data(), as: UTF8.self)
        let source = "\(kind) \(name)"
        let (resources, diagnostics, _) = ManifestDecoder.decode([ManifestSource(path: source, text: text)])
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let value = pick(resources) else {
            let reasons = errors.map(\.message).joined(separator: "; ")
            return .failure(Problem(message: "\(source) is not valid: \(reasons.isEmpty ? "it could not be decoded" : reasons)"))
        }
        return .success(value)
    }
}
