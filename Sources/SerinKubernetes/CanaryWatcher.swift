import Foundation
import SerinCore
import SerinManifests

/// Keeps the controller's Canaries in step with the cluster's: lists them, then watches from the list's
/// resourceVersion and hands the whole current set to the controller after every change. A watch that ends
/// or drops resumes from the last resourceVersion it saw, so no change is missed; a 410 Gone (that version was
/// compacted away) lists again; any other failure is retried with backoff, without losing what is known.
/// Commands people write on a Canary (`CanaryCommandChannel`) are handed over once each, after the specs.
public actor CanaryWatcher {
    private let api: any KubernetesAPI
    private let namespace: String?
    private let log: @Sendable (String) -> Void
    private let apply: @Sendable ([CanarySpec]) async -> [String]
    private let command: (@Sendable (CanaryCommandChannel.Request) async -> Void)?
    private var objects: [ResourceName: JSONValue] = [:]
    private var reported: Set<String> = []
    /// The last request handed over per Canary, so one whose answer is still being written is not run twice.
    private var handedOver: [ResourceName: String] = [:]

    /// - Parameters:
    ///   - namespace: the namespace to watch; nil for all.
    ///   - apply: gives the controller the current specs (`CanaryController.reconcile`) and returns its problems.
    ///   - command: carries out a person's command and answers it (`CanaryCommandChannel.handler`); nil ignores them.
    public init(
        api: any KubernetesAPI, namespace: String?, log: @escaping @Sendable (String) -> Void,
        command: (@Sendable (CanaryCommandChannel.Request) async -> Void)? = nil,
        apply: @escaping @Sendable ([CanarySpec]) async -> [String]
    ) {
        self.api = api
        self.namespace = namespace
        self.log = log
        self.command = command
        self.apply = apply
    }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var version: String?
        var backoff = Duration.milliseconds(200)
        let collection = ResourcePath.canaries(namespace: namespace)
        while !Task.isCancelled {
            do {
                if version == nil {
                    let list = try await api.list(collection)
                    objects = [:]
                    for item in list.items { if let name = Self.name(of: item) { objects[name] = item } }
                    version = list.resourceVersion
                    await sync()
                }
                var delivered = false
                for try await event in api.watch(collection, from: version) {
                    delivered = true
                    switch event {
                    case .added(let object), .modified(let object):
                        if let name = Self.name(of: object) { objects[name] = object }
                    case .deleted(let object):
                        if let name = Self.name(of: object) { objects[name] = nil }
                    case .bookmark:
                        break
                    }
                    version = event.resourceVersion ?? version
                    if case .bookmark = event { continue }
                    backoff = .milliseconds(200)
                    await sync()
                }
                // A watch the server ends at once, again and again, must not become a busy loop.
                if !delivered {
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                }
            } catch let error as KubernetesAPIError where error.isGone {
                log("canaries: \(error.message); listing them again")
                version = nil
            } catch {
                if Task.isCancelled { return }
                log("canaries: watch failed (\(error)); trying again in \(Readable.duration(backoff))")
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    private func sync() async {
        var specs: [CanarySpec] = []
        var problems: [String] = []
        for (_, object) in objects.sorted(by: { $0.key.description < $1.key.description }) {
            switch Self.spec(from: object) {
            case .success(let spec): specs.append(spec)
            case .failure(let failure): problems.append(failure.message)
            }
        }
        problems += await apply(specs)
        // Each problem is said once, not after every change of another Canary.
        for problem in problems where !reported.contains(problem) { log(problem) }
        reported = Set(problems)
        guard let command else { return }
        for (name, object) in objects.sorted(by: { $0.key.description < $1.key.description }) {
            guard let request = CanaryCommandChannel.pendingRequest(in: object), handedOver[name] != request.id else { continue }
            handedOver[name] = request.id
            await command(request)
        }
        handedOver = handedOver.filter { objects[$0.key] != nil }
    }

    static func name(of object: JSONValue) -> ResourceName? {
        guard let name = object["metadata"]?["name"]?.stringValue else { return nil }
        return ResourceName(namespace: object["metadata"]?["namespace"]?.stringValue ?? ResourceName.defaultNamespace, name: name)
    }

    /// Why a Canary in the cluster could not be read, with its name and the field.
    public struct Problem: Error, Equatable {
        public let message: String

        public init(message: String) { self.message = message }
    }

    /// The spec of a Canary object, decoded by the same decoder as the YAML files of embedded mode.
    public static func spec(from object: JSONValue) -> Result<CanarySpec, Problem> {
        guard let name = name(of: object) else { return .failure(Problem(message: "a Canary without metadata.name")) }
        let document: JSONValue = [
            "apiVersion": object["apiVersion"] ?? "serin.dev/v1alpha1", "kind": "Canary",
            "metadata": ["name": .string(name.name), "namespace": .string(name.namespace)], "spec": object["spec"] ?? [:],
        ]
        let text = String(decoding: (try? JSONEncoder().encode(document)) ?? Data(), as: UTF8.self)
        let source = "Canary \(name)"
        let (resources, diagnostics) = ManifestDecoder.decode([ManifestSource(path: source, text: text)])
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let spec = resources.canaries.first else {
            let reasons = errors.map(\.message).joined(separator: "; ")
            return .failure(Problem(message: "\(source) is not valid: \(reasons.isEmpty ? "it could not be decoded" : reasons)"))
        }
        return .success(spec)
    }
}
