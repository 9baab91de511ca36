import Foundation
import SerinCore
import SerinManifests

/// Keeps the controller's Canaries in step with the cluster's (a `ResourceWatch` of canaries.serin.dev) and
/// hands the whole current set to the controller after every change.
/// Commands people write on a Canary (`CanaryCommandChannel`) are handed over once each, after the specs.
public actor CanaryWatcher {
    private let api: any KubernetesAPI
    private let namespace: String?
    private let log: @Sendable (String) -> Void
    private let apply: @Sendable ([CanarySpec]) async -> [String]
    private let command: (@Sendable (CanaryCommandChannel.Request) async -> Void)?
    private let workloads: KubernetesWorkloads?
    private let configResync: Duration
    private var objects: [ResourceName: JSONValue] = [:]
    private var reported: Set<String> = []
    /// The last request handed over per Canary, so one whose answer is still being written is not run twice.
    private var handedOver: [ResourceName: String] = [:]

    /// - Parameters:
    ///   - namespace: the namespace to watch; nil for all.
    ///   - apply: gives the controller the current specs (`CanaryController.reconcile`) and returns its problems.
    ///   - command: carries out a person's command and answers it (`CanaryCommandChannel.handler`); nil ignores them.
    ///   - workloads: prepares Canaries on a Deployment (Flagger's shape) and watches Deployments for new revisions;
    ///     nil leaves such Canaries out, with a problem.
    ///   - configResync: how often the ConfigMaps and Secrets such a Deployment reads are read again for a new
    ///     revision. Read, not watched: watching every Secret in the cluster would put them all in this process.
    public init(
        api: any KubernetesAPI, namespace: String?, log: @escaping @Sendable (String) -> Void,
        command: (@Sendable (CanaryCommandChannel.Request) async -> Void)? = nil,
        workloads: KubernetesWorkloads? = nil, configResync: Duration = .seconds(15),
        apply: @escaping @Sendable ([CanarySpec]) async -> [String]
    ) {
        self.api = api
        self.workloads = workloads
        self.configResync = configResync
        self.namespace = namespace
        self.log = log
        self.command = command
        self.apply = apply
    }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        let watch = ResourceWatch(api: api, collection: .canaries(namespace: namespace), label: "canaries", log: log)
        guard workloads != nil else {
            await watch.run { objects in await self.changed(objects) }
            return
        }
        // A change of a target Deployment's pod template is a new revision: Deployments are watched too.
        let deployments = ResourceWatch(api: api, collection: .deployments(namespace: namespace), label: "deployments", log: log)
        async let canaries: Void = watch.run { objects in await self.changed(objects) }
        async let targets: Void = deployments.run { _ in await self.sync() }
        // A ConfigMap or Secret a target reads changes no Deployment: its content is read again now and then.
        async let configs: Void = {
            while (try? await Task.sleep(for: configResync)) != nil { await self.sync() }
        }()
        _ = await (canaries, targets, configs)
    }

    private func changed(_ objects: [ResourceName: JSONValue]) async {
        self.objects = objects
        await sync()
    }

    /// Syncs one at a time, newest state last: a change that arrives while a sync awaits the API (preparing a
    /// workload Canary) is synced again after it, never handed over before an older one.
    private func sync() async {
        if syncing {
            syncAgain = true
            return
        }
        syncing = true
        repeat {
            syncAgain = false
            await syncOnce()
        } while syncAgain
        syncing = false
    }

    private var syncing = false
    private var syncAgain = false

    private func syncOnce() async {
        let current = objects.sorted(by: { $0.key.description < $1.key.description })
        var specs: [CanarySpec] = []
        var problems: [String] = []
        for (_, object) in current {
            switch Self.spec(from: object) {
            case .success(let spec) where spec.workload != nil:
                guard let workloads else {
                    problems.append("Canary \(spec.name): a targetRef of kind Deployment needs the controller's Deployment support")
                    continue
                }
                switch await workloads.prepare(spec, canary: object) {
                case .success(let prepared): specs.append(prepared)
                case .failure(let failure): problems.append(failure.message)
                }
            case .success(let spec): specs.append(spec)
            case .failure(let failure): problems.append(failure.message)
            }
        }
        problems += await apply(specs)
        // Each problem is said once, not after every change of another Canary.
        for problem in problems where !reported.contains(problem) { log(problem) }
        reported = Set(problems)
        guard let command else { return }
        for (name, object) in current {
            guard let request = CanaryCommandChannel.pendingRequest(in: object), handedOver[name] != request.id else { continue }
            handedOver[name] = request.id
            await command(request)
        }
        handedOver = handedOver.filter { objects[$0.key] != nil }
    }

    /// Why a Canary in the cluster could not be read, with its name and the field.
    public struct Problem: Error, Equatable {
        public let message: String

        public init(message: String) { self.message = message }
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
        let (resources, diagnostics) = ManifestDecoder.decode([ManifestSource(path: source, text: text)])
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let value = pick(resources) else {
            let reasons = errors.map(\.message).joined(separator: "; ")
            return .failure(Problem(message: "\(source) is not valid: \(reasons.isEmpty ? "it could not be decoded" : reasons)"))
        }
        return .success(value)
    }
}
