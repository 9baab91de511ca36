import Logging
import SerinCore

/// One collection of the cluster kept in step: lists it, then watches from the list's resourceVersion and
/// hands over the whole current set after every change. A watch that ends or drops resumes from the last
/// resourceVersion it saw, so no change is missed; a 410 Gone (that version was compacted away) lists again;
/// any other failure is retried with backoff by listing again, without losing what is known until the list
/// answers, and said once until it changes.
/// A quiet watch that the API server ends (it ends each after its own timeout) is resumed at once.
struct ResourceWatch: Sendable {
    let api: any KubernetesAPI
    let collection: ResourcePath
    /// What the log calls the collection: `canaries`.
    let label: String
    let logger: Logger
    /// A collection whose resource is not installed (a 404 on the list: Flagger's CRD in a cluster without
    /// Flagger) counts as empty, and is listed again now and then, instead of holding up everything else.
    var missingIsEmpty = false
    /// A watch that ends with nothing delivered sooner than this ended at once: the next one waits (backoff), so a
    /// server that ends every watch straight away is not asked again in a busy loop. One that lasted longer was
    /// healthy, only quiet: the next starts at once.
    var quickEnd: Duration = .seconds(1)
    /// Told when the watch works and when it fails, for `/readyz`.
    var readiness: ClusterReadiness?

    /// Lists and watches until the task is cancelled; `changed` gets every object by name after each change.
    func run(_ changed: @Sendable ([ResourceName: JSONValue]) async -> Void) async {
        var objects: [ResourceName: JSONValue] = [:]
        var version: String?
        var backoff = Backoff(first: .milliseconds(200))
        var lastFailure: String?
        while !Task.isCancelled {
            do {
                if version == nil {
                    let list = try await api.list(collection)
                    objects = [:]
                    for item in list.items { if let name = Self.name(of: item) { objects[name] = item } }
                    version = list.resourceVersion
                    lastFailure = nil
                    readiness?.succeeded(label)
                    await changed(objects)
                }
                var delivered = false
                let watchStarted = ContinuousClock.now
                for try await event in api.watch(collection, from: version) {
                    delivered = true
                    lastFailure = nil
                    readiness?.succeeded(label)
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
                    backoff.reset()
                    await changed(objects)
                }
                // A watch the server ends at once, again and again, must not become a busy loop; a healthy one that
                // ends (quiet, or with bookmarks only) is resumed at once, however many came before it.
                if delivered || ContinuousClock.now - watchStarted >= quickEnd {
                    readiness?.succeeded(label)
                    backoff.reset()
                } else {
                    await backoff.wait()
                }
            } catch let error as KubernetesAPIError where error.isNotFound && missingIsEmpty && version == nil {
                let failure = "\(label): not installed in this cluster (\(error.message)); none to run, looking again every 30s"
                readiness?.succeeded(label)
                if failure != lastFailure {
                    logger.notice("\(failure)")
                    await changed([:])
                }
                lastFailure = failure
                objects = [:]
                try? await Task.sleep(for: .seconds(30))
            } catch let error as KubernetesAPIError where error.isGone {
                logger.info("\(label): \(error.message); listing them again")
                version = nil
            } catch {
                if Task.isCancelled { return }
                let failure = "\(label): watch failed (\(error))"
                readiness?.failed(label, "\(error)")
                // Listed again once it works: the list says the API answers (a resumed watch that is quiet says
                // nothing), and brings what changed meanwhile in one go.
                version = nil
                if failure != lastFailure { logger.warning("\(failure); trying again with backoff up to \(Int(backoff.ceiling.components.seconds))s") }
                lastFailure = failure
                await backoff.wait()
            }
        }
    }

    static func name(of object: JSONValue) -> ResourceName? {
        guard let name = object["metadata"]?["name"]?.stringValue else { return nil }
        return ResourceName(namespace: object["metadata"]?["namespace"]?.stringValue ?? ResourceName.defaultNamespace, name: name)
    }
}
