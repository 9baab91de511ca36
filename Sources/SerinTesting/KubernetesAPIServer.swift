import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SerinKubernetes

/// An in-process Kubernetes API server on 127.0.0.1, for what cannot run on this machine: a cluster.
///
/// It models the semantics a controller relies on, not just storage: every write bumps a cluster-wide
/// resourceVersion; an update with a stale resourceVersion is a 409 Conflict; a JSON Patch whose `test` fails
/// is a 422 and changes nothing; resources with a status subresource keep `status` and the rest apart;
/// watches stream ADDED/MODIFIED/DELETED (and BOOKMARK on request) from a resourceVersion, and a watch from
/// before the last compaction gets a 410 Gone; without the bearer token every call is a 401. The served
/// versions of a group share one storage (`networking.istio.io/v1beta1` and `v1` are the same objects); a delete
/// cascades to what the deleted object owns (`+GarbageCollection`), finalizers hold a deleted object until they are
/// taken off (`+Finalizers`), a Service's clusterIP is allocated and never changed in place (`+Services`), and
/// Deployments roll out as their controller would (`+Deployments`). Tests can also edit objects as another client would, drop every watch, compact
/// history, and fail the next calls. It answers the real kubectl too (`KubectlScenarioTests`): discovery and the
/// CRDs created (`+Discovery`), Tables (`+Table`), merge, strategic merge and server-side apply with managed
/// fields (`+Apply`), selectors (`+Selectors`), RBAC for service-account tokens (`+RBAC`), over TLS when asked.
public final class KubernetesAPIServer: Sendable {
    public let port: Int
    public let token: String?
    /// The server's self-signed certificate (PEM) when it speaks TLS, as kubectl needs: it sends no credentials
    /// to an `http://` server.
    public let certificatePEM: String?
    private let channel: any Channel
    let state: NIOLockedValueBox<State>

    /// Where an object lives: `apis/serin.dev/v1alpha1`, `canaries`, `default`, `web`. Keys equal across the
    /// versions of one group: Kubernetes serves every version of a resource from the same stored object.
    public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
        public let groupVersion: String
        public let resource: String
        public let namespace: String
        public let name: String

        public init(groupVersion: String, resource: String, namespace: String, name: String) {
            self.groupVersion = groupVersion
            self.resource = resource
            self.namespace = namespace
            self.name = name
        }

        public var description: String { "\(groupVersion)/namespaces/\(namespace)/\(resource)/\(name)" }

        /// The API group: empty for the core group.
        var group: String { KubernetesAPIServer.group(of: groupVersion) }

        /// Same group, resource, namespace and name: a `v1beta1` key and a `v1` key name one stored object.
        public static func == (left: ObjectKey, right: ObjectKey) -> Bool {
            left.group == right.group && left.resource == right.resource && left.namespace == right.namespace && left.name == right.name
        }

        /// Hashes what `==` compares, so every version's key finds the one stored object.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(group)
            hasher.combine(resource)
            hasher.combine(namespace)
            hasher.combine(name)
        }

        /// The order lists and initial watch events come in, whichever version stored the object.
        static func ordered(_ left: ObjectKey, _ right: ObjectKey) -> Bool {
            (left.group, left.resource, left.namespace, left.name) < (right.group, right.resource, right.namespace, right.name)
        }
    }

    /// `apps` for `apps/v1`, empty for the core group's `v1`.
    static func group(of groupVersion: String) -> String {
        groupVersion.contains("/") ? String(groupVersion.split(separator: "/")[0]) : ""
    }

    /// `object` as it is served through `groupVersion`: the stored object with that version in `apiVersion`.
    static func served(_ object: JSONValue, as groupVersion: String) -> JSONValue {
        guard case .object(var fields) = object, case .string(let written)? = fields["apiVersion"], written != groupVersion else {
            return object
        }
        fields["apiVersion"] = .string(groupVersion)
        return .object(fields)
    }

    struct Change {
        let revision: Int
        let type: String
        let key: ObjectKey
        let object: JSONValue
    }

    struct Watcher {
        let groupVersion: String
        let resource: String
        let namespace: String?
        let bookmarks: Bool
        let selector: Selector
        /// Set when the client asked for Tables: each event's object is a one-row Table of this resource.
        let table: ServedResource?
        let includeObject: String?
        let send: @Sendable (JSONValue) -> Void
        let close: @Sendable () -> Void
    }

    struct State {
        var objects: [ObjectKey: JSONValue] = [:]
        var revision = 100
        var history: [Change] = []
        var compactedThrough = 0
        var watchers: [UInt64: Watcher] = [:]
        var nextWatcher: UInt64 = 0
        /// Set by `stallWatches`: new watches get their head and then nothing, for good.
        var stalledWatches = false
        var failures: [(status: Int, reason: String)] = []
        /// Set by `failEverything`: every call fails so once `failures` are used up, until `answerAgain`.
        var failingAll: (status: Int, reason: String)?
        /// How many of the next calls get no answer at all.
        var hangs = 0
        var hooks: [(method: String, action: @Sendable () -> Void)] = []
        var log: [String] = []
        /// Deployment spec changes wait for `completeDeploymentRollouts()` while set.
        var holdingRollouts = false
        /// `group/version/resource`s whose CRD is not installed: every call on them is a 404.
        var notInstalled: Set<String> = []
        /// Deployments whose latest spec is not rolled out yet.
        var heldRollouts: Set<ObjectKey> = []
        /// Serin's and Flagger's resources are served before any CRD defines them (`+Discovery`).
        var assumingCRDs = true
        /// Service-account tokens, authorized by RBAC (`+RBAC`).
        var serviceAccounts: [String: (namespace: String, name: String)] = [:]
        /// `METHOD path` of every call RBAC refused.
        var forbidden: [String] = []
    }

    private init(port: Int, token: String?, certificatePEM: String?, channel: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.token = token
        self.certificatePEM = certificatePEM
        self.channel = channel
        self.state = state
    }

    /// Starts the server; with a `token`, every call must carry `Authorization: Bearer TOKEN` (or a service
    /// account's token, `+RBAC`). `assumingCRDs`: Serin's and Flagger's resources are served as if their CRDs were
    /// installed; without, they are served once a CustomResourceDefinition for them is created, as in a new cluster.
    /// `tls`: HTTPS with a self-signed certificate for 127.0.0.1 (`certificatePEM`), which kubectl needs.
    public static func start(
        group: any EventLoopGroup, token: String? = "test-token", assumingCRDs: Bool = true, tls: Bool = false
    ) async throws -> KubernetesAPIServer {
        let certificate = tls ? try SelfSignedCertificate.make() : nil
        let context = try certificate.map { certificate in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem))
            ))
        }
        var initial = State()
        initial.assumingCRDs = assumingCRDs
        let state = NIOLockedValueBox(initial)
        let box = NIOLockedValueBox<KubernetesAPIServer?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(server: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = KubernetesAPIServer(
            port: channel.localAddress?.port ?? 0, token: token, certificatePEM: certificate?.certificatePEM, channel: channel, state: state)
        box.withLockedValue { $0 = server }
        return server
    }

    public var url: URL { URL(string: "\(certificatePEM == nil ? "http" : "https")://127.0.0.1:\(port)")! }

    /// A client's connection to this server: its URL, its certificate as the authority, and `token` (the admin's
    /// by default).
    public func connection(token: String? = nil) -> KubeConfig.Connection {
        KubeConfig.Connection(
            contextName: "double", server: url, certificateAuthority: certificatePEM.map { .data(Data($0.utf8)) },
            credential: (token ?? self.token).map { .bearerToken($0) })
    }

    /// A kubeconfig for this server (context `double`, namespace `default`, its token) in `directory`; returns its path.
    public func writeKubeconfig(in directory: URL) throws -> String {
        try writeKubeconfig(in: directory, token: token)
    }

    func writeKubeconfig(in directory: URL, token: String?) throws -> String {
        try Self.writeKubeconfig(in: directory, server: url, certificatePEM: certificatePEM, token: token)
    }

    /// A kubeconfig for the API server at `server` (context `double`, namespace `default`) in `directory`, for an
    /// address where no double answers (a refusing port); returns its path.
    public static func writeKubeconfig(in directory: URL, server: URL, certificatePEM: String? = nil, token: String?) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig").path
        try """
            apiVersion: v1
            kind: Config
            current-context: double
            clusters:
            - name: double
              cluster: {server: "\(server.absoluteString)"\(certificatePEM.map { ", certificate-authority-data: \(Data($0.utf8).base64EncodedString())" } ?? "")}
            users:
            - name: serin
              user: {token: \(token ?? "none")}
            contexts:
            - name: double
              context: {cluster: double, user: serin, namespace: default}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public func close() async {
        dropWatches()
        try? await channel.close()
    }

    // MARK: What tests do to it

    /// Stores `object` as if another client created or replaced it (bumping its resourceVersion and notifying
    /// watchers). Returns the stored object. A `status` that differs from the stored one is kept as given, so a
    /// test can stage a Deployment mid-rollout; otherwise a Deployment spec change rolls out (`+Deployments`).
    @discardableResult
    public func put(_ object: JSONValue, at key: ObjectKey) -> JSONValue {
        state.withLockedValue { state in
            let previous = state.objects[key]
            return Self.write(
                object, at: key, type: previous == nil ? "ADDED" : "MODIFIED", settingStatus: object["status"] != previous?["status"], in: &state
            )
        }
    }

    /// Changes a stored object as another client would; like `put`, a changed `status` is kept as given.
    @discardableResult
    public func edit(_ key: ObjectKey, _ change: (inout JSONValue) -> Void) -> JSONValue? {
        state.withLockedValue { state in
            guard let previous = state.objects[key] else { return nil }
            var object = previous
            change(&object)
            return Self.write(object, at: key, type: "MODIFIED", settingStatus: object["status"] != previous["status"], in: &state)
        }
    }

    /// Deletes an object as another client would (`kubectl delete`): watchers see DELETED, and what it owns is
    /// collected after it (`+GarbageCollection`); one with finalizers is only marked for deletion until they are
    /// taken off (`+Finalizers`). Returns the deleted or marked object, nil if there was none.
    @discardableResult
    public func delete(_ key: ObjectKey) -> JSONValue? {
        state.withLockedValue { Self.delete(key, in: &$0) }
    }

    public func object(_ key: ObjectKey) -> JSONValue? { state.withLockedValue { $0.objects[key] } }

    /// Closes every open watch, as a restarted API server or a broken connection would.
    public func dropWatches() {
        let watchers = state.withLockedValue { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.close() }
    }

    /// Watches opened from now on get their response head and then nothing, whatever changes and whatever their
    /// `timeoutSeconds` asks: what a client sees of a connection that died without closing (an API server host gone,
    /// a load balancer that forgot the connection).
    public func stallWatches() {
        state.withLockedValue { $0.stalledWatches = true }
    }

    /// Watches opened from now on work again (the stalled ones stay stalled until their client ends them).
    public func resumeWatches() {
        state.withLockedValue { $0.stalledWatches = false }
    }

    /// Forgets history up to now: a watch from an older resourceVersion gets 410 Gone.
    public func compact() {
        state.withLockedValue { state in
            state.compactedThrough = state.revision
            state.history.removeAll()
        }
    }

    /// Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks.
    public func bookmark() {
        let (watchers, revision) = state.withLockedValue { (Array($0.watchers.values), $0.revision) }
        for watcher in watchers where watcher.bookmarks {
            watcher.send(["type": "BOOKMARK", "object": ["metadata": ["resourceVersion": .string(String(revision))]]])
        }
    }

    /// Makes a resource (`flagger.app/v1beta1/canaries`) one this cluster does not have, as when its CRD is not
    /// installed: every call on it answers 404, as the API server does for an unknown resource.
    public func uninstall(_ groupVersionResource: String) {
        state.withLockedValue { _ = $0.notInstalled.insert(groupVersionResource) }
    }

    /// The next `count` calls fail with `status` (500, 503, 429...) before doing anything.
    public func failNext(_ count: Int = 1, status: Int = 500, reason: String = "InternalError") {
        state.withLockedValue { state in
            for _ in 0..<count { state.failures.append((status, reason)) }
        }
    }

    /// Every call from now on fails with `status` before doing anything (an API server down behind its load
    /// balancer), until `answerAgain`.
    public func failEverything(status: Int = 503, reason: String = "ServiceUnavailable") {
        state.withLockedValue { $0.failingAll = (status, reason) }
    }

    /// Calls are answered again after `failEverything`.
    public func answerAgain() {
        state.withLockedValue { $0.failingAll = nil }
    }

    /// The next `count` calls get no answer at all: their connections stay open and silent, as on a connection
    /// that died without closing.
    public func hangNext(_ count: Int = 1) {
        state.withLockedValue { $0.hangs += count }
    }

    /// Runs `action` just before the next `method` call is handled: another client's write landing between
    /// a controller's read and its write, at exactly that moment.
    public func beforeNext(_ method: String, _ action: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.hooks.append((method, action)) }
    }

    /// `METHOD path` of every call so far, in order; watches end in `?watch`.
    public var requestLog: [String] { state.withLockedValue { $0.log } }

    /// `METHOD path` of every call a service account made that RBAC refused with a 403.
    public var forbiddenCalls: [String] { state.withLockedValue { $0.forbidden } }

    /// Open watches.
    public var watchCount: Int { state.withLockedValue { $0.watchers.count } }

    // MARK: Storage

    /// Every change to the objects goes through here: a new resourceVersion, the generation bumped when `spec`
    /// changed, the history a watch resumes from, and the watchers told. A write that would store the object as it is
    /// changes nothing, as the API server's no-op update: no new resourceVersion, no event, the object returned as is.
    static func store(_ object: JSONValue, at key: ObjectKey, type: String, in state: inout State) -> JSONValue {
        guard case .object(var fields) = object else {
            state.revision += 1
            return object
        }
        var metadata: [String: JSONValue] = ["name": .string(key.name), "namespace": .string(key.namespace)]
        if case .object(let existing)? = fields["metadata"] { metadata.merge(existing) { $1 } }
        metadata["name"] = .string(key.name)
        metadata["namespace"] = .string(key.namespace)
        let previous = state.objects[key]
        if key.namespace.isEmpty { metadata["namespace"] = nil }
        metadata["uid"] = previous?["metadata"]?["uid"] ?? .string(UUID().uuidString.lowercased())
        metadata["creationTimestamp"] =
            previous?["metadata"]?["creationTimestamp"] ?? metadata["creationTimestamp"] ?? .string(ISO8601DateFormatter().string(from: Date()))
        let oldGeneration = previous?["metadata"]?["generation"]?.intValue ?? 0
        let specChanged = previous == nil || previous?["spec"] != fields["spec"]
        metadata["generation"] = .number(Double(specChanged ? oldGeneration + 1 : oldGeneration))
        metadata["resourceVersion"] = previous?["metadata"]?["resourceVersion"]
        fields["metadata"] = .object(metadata)
        if type == "MODIFIED", let previous, previous == .object(fields) { return previous }
        state.revision += 1
        metadata["resourceVersion"] = .string(String(state.revision))
        fields["metadata"] = .object(metadata)
        let stored = JSONValue.object(fields)
        if type == "DELETED" {
            state.objects[key] = nil
        } else {
            state.objects[key] = stored
        }
        state.history.append(Change(revision: state.revision, type: type, key: key, object: stored))
        for watcher in state.watchers.values where watcher.matches(key) {
            if let event = watcher.event(type, stored) { watcher.send(event) }
        }
        return stored
    }

    // MARK: Requests

    struct Request {
        let method: HTTPMethod
        let path: String
        let query: [String: String]
        let headers: HTTPHeaders
        let body: Data
    }

    enum Reply: Sendable {
        case json(Int, JSONValue)
        case watch(JSONValue?, register: (@Sendable (@escaping @Sendable (JSONValue) -> Void, @escaping @Sendable () -> Void) -> UInt64)?)
        /// No answer at all: the connection stays open and silent (`hangNext`).
        case silence
    }

    /// `/api/v1/...` or `/apis/GROUP/VERSION/...`: group-version, then namespace, resource, name, subresource.
    public struct Route: Sendable {
        public let groupVersion: String
        public let namespace: String?
        public let resource: String
        public let name: String?
        public let subresource: String?

        /// The API group as RBAC names it: empty for the core group.
        public var group: String { KubernetesAPIServer.group(of: groupVersion) }

        public init?(_ path: String) {
            var parts = path.split(separator: "/").map(String.init)
            if parts.first == "api", parts.count >= 2 {
                groupVersion = parts[1]
                parts.removeFirst(2)
            } else if parts.first == "apis", parts.count >= 3 {
                groupVersion = parts[1] + "/" + parts[2]
                parts.removeFirst(3)
            } else {
                return nil
            }
            if parts.first == "namespaces", parts.count >= 3 {
                namespace = parts[1]
                parts.removeFirst(2)
            } else {
                namespace = nil
            }
            guard let resource = parts.first, parts.count <= 3 else { return nil }
            self.resource = resource
            name = parts.count > 1 ? parts[1] : nil
            subresource = parts.count > 2 ? parts[2] : nil
        }

        func key(name: String) -> ObjectKey {
            ObjectKey(groupVersion: groupVersion, resource: resource, namespace: namespace ?? "default", name: name)
        }

        /// The key of `name` for a resource that is namespaced or not: cluster-scoped objects have no namespace.
        func key(name: String, namespaced: Bool) -> ObjectKey {
            namespaced ? key(name: name) : ObjectKey(groupVersion: groupVersion, resource: resource, namespace: "", name: name)
        }
    }

    static func status(_ code: Int, _ reason: String, _ message: String) -> Reply {
        .json(
            code,
            [
                "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": .string(message),
                "reason": .string(reason), "code": .number(Double(code)),
            ]
        )
    }

    func handle(_ request: Request) -> Reply {
        let hook = state.withLockedValue { state -> (@Sendable () -> Void)? in
            guard let index = state.hooks.firstIndex(where: { $0.method == request.method.rawValue }) else { return nil }
            return state.hooks.remove(at: index).action
        }
        hook?()
        let watching = request.query["watch"] == "1" || request.query["watch"] == "true"
        let (failure, hangs) = state.withLockedValue { state in
            state.log.append("\(request.method.rawValue) \(request.path)\(watching ? "?watch" : "")")
            defer { state.hangs = max(0, state.hangs - 1) }
            return (state.failures.isEmpty ? state.failingAll : state.failures.removeFirst(), state.hangs > 0)
        }
        if hangs { return .silence }
        var account: (namespace: String, name: String)?
        if let token {
            let sent = request.headers.first(name: "authorization") ?? ""
            if sent != "Bearer \(token)" {
                account = state.withLockedValue { $0.serviceAccounts[String(sent.dropFirst("Bearer ".count))] }
                guard account != nil, sent.hasPrefix("Bearer ") else { return Self.status(401, "Unauthorized", "Unauthorized") }
            }
        }
        if let failure { return Self.status(failure.status, failure.reason, "injected failure") }
        if let reply = discovery(request.path) {
            return request.method == .GET ? reply : Self.status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        }
        guard let route = Route(request.path), let resource = state.withLockedValue({ Self.resource(route, in: $0) }) else {
            return Self.notFoundPath()
        }
        if let subresource = route.subresource, subresource != "status" || !resource.hasStatus {
            return Self.status(404, "NotFound", "the server could not find the requested resource (\(subresource) of \(resource.qualifiedName))")
        }
        if let account, let refusal = state.withLockedValue({ state in
            Self.forbidden(
                serviceAccount: account, verb: Self.verb(request.method.rawValue, named: route.name != nil, watching: watching), route: route,
                resource: resource, in: state)
        }) {
            state.withLockedValue { $0.forbidden.append("\(request.method.rawValue) \(request.path)") }
            return refusal
        }
        let writer = ManagedEntry(
            manager: Self.fieldManager(request), operation: "Update", apiVersion: route.groupVersion, subresource: route.subresource, paths: [])
        switch (request.method, route.name) {
        case (.GET, nil):
            return watching ? watch(route, resource, request) : list(route, resource, request)
        case (.GET, let name?):
            guard let object = self.object(route.key(name: name, namespaced: resource.namespaced)) else { return Self.notFound(resource, name) }
            let served = Self.served(object, as: route.groupVersion)
            if Self.wantsTable(request.headers["accept"]) {
                return .json(200, Self.table([served], of: resource, includeObject: request.query["includeObject"], resourceVersion: nil))
            }
            return .json(200, served)
        case (.POST, nil):
            let object: JSONValue
            switch Self.sentObject(request, as: resource) {
            case .success(let sent): object = sent
            case .failure(let refusal): return refusal.reply
            }
            guard let name = object["metadata"]?["name"]?.stringValue else {
                return Self.status(400, "BadRequest", "the body must be an object with metadata.name")
            }
            return change(route, resource, name: name, creating: .only) { _ in
                Self.recordingUpdate(by: writer, from: nil, to: object)
            }
        case (.PUT, let name?):
            let object: JSONValue
            switch Self.sentObject(request, as: resource) {
            case .success(let sent): object = sent
            case .failure(let refusal): return refusal.reply
            }
            return change(route, resource, name: name) { current in
                if let sent = object["metadata"]?["resourceVersion"], sent != current?["metadata"]?["resourceVersion"] {
                    throw ReplyError(reply: Self.conflict(resource, name))
                }
                return Self.recordingUpdate(by: writer, from: current, to: object)
            }
        case (.PATCH, let name?):
            return patch(route, resource, name: name, request, writer: writer)
        case (.DELETE, let name?):
            return state.withLockedValue { state in
                guard let deleted = Self.delete(route.key(name: name, namespaced: resource.namespaced), in: &state) else {
                    return Self.notFound(resource, name)
                }
                return .json(200, Self.served(deleted, as: route.groupVersion))
            }
        default:
            return Self.status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        }
    }

    /// What the API server's defaulting adds to a written object that the controller or kubectl reads back: a
    /// Secret's `type` is `Opaque` when none (or an empty one) is sent.
    private static func defaulted(_ object: JSONValue, _ resource: ServedResource) -> JSONValue {
        guard resource.group == "", resource.plural == "secrets", case .object(var fields) = object,
              (fields["type"]?.stringValue ?? "").isEmpty else { return object }
        fields["type"] = "Opaque"
        return .object(fields)
    }

    /// The object a create or replace sends, `defaulted` as `resource`: JSON, or protobuf as kubectl sends the built-in
    /// kinds it creates.
    private static func sentObject(_ request: Request, as resource: ServedResource) -> Result<JSONValue, ReplyError> {
        let contentType = request.headers.first(name: "content-type")?.split(separator: ";").first.map(String.init) ?? ""
        if contentType == KubernetesProtobuf.contentType {
            do {
                return .success(defaulted(try KubernetesProtobuf.object(from: request.body), resource))
            } catch let unreadable as KubernetesProtobuf.Unreadable {
                return .failure(ReplyError(reply: unreadable.unsupportedKind
                    ? status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
                    : status(400, "BadRequest", "the protobuf body cannot be read: \(unreadable)")))
            } catch {
                return .failure(ReplyError(reply: status(400, "BadRequest", "the protobuf body cannot be read: \(error)")))
            }
        }
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: request.body) else {
            return .failure(ReplyError(reply: status(400, "BadRequest", "the body is not JSON")))
        }
        return .success(defaulted(object, resource))
    }

    /// The four kinds of PATCH, by content type; others are a 415 as the API server answers them.
    private func patch(_ route: Route, _ resource: ServedResource, name: String, _ request: Request, writer: ManagedEntry) -> Reply {
        let contentType = request.headers.first(name: "content-type")?.split(separator: ";").first.map(String.init) ?? ""
        let builtIn = ["", "apps", "autoscaling", "coordination.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io"].contains(resource.group)
        let accepted = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
            + (builtIn ? ["application/strategic-merge-patch+json"] : [])
        guard accepted.contains(contentType) else {
            return Self.status(
                415, "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: \(accepted.joined(separator: ", "))")
        }
        if contentType == "application/json-patch+json" {
            guard let operations = try? JSONDecoder().decode([JSONPatchOperation].self, from: request.body) else {
                return Self.status(400, "BadRequest", "the body is not a JSON Patch")
            }
            return change(route, resource, name: name) { current in
                do {
                    return Self.recordingUpdate(by: writer, from: current, to: try (current ?? [:]).applying(operations))
                } catch JSONPatchError.testFailed(let path, _, _) {
                    throw ReplyError(reply: Self.status(
                        422, "Invalid", "the server rejected our request due to an error in our request: Testing value \(path) failed"))
                } catch {
                    throw ReplyError(reply: Self.status(422, "Invalid", "the server rejected our request due to an error in our request: \(error)"))
                }
            }
        }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: request.body), body.objectValue != nil else {
            // kubectl sends JSON; YAML, which the real server also takes for apply, is not modelled.
            return Self.status(400, "BadRequest", "the body of a \(contentType) patch must be a JSON object")
        }
        switch contentType {
        case "application/apply-patch+yaml":
            guard request.query["fieldManager"]?.isEmpty == false else {
                return Self.status(400, "BadRequest", "PATCH requests with apply content type must have a fieldManager")
            }
            var applier = writer
            applier.operation = "Apply"
            return change(route, resource, name: name, creating: .allowed) { current in
                try Self.applying(body, by: applier, onto: current, force: request.query["force"] == "true").get()
            }
        case "application/merge-patch+json":
            return change(route, resource, name: name) { current in
                Self.recordingUpdate(by: writer, from: current, to: Self.mergePatch(current, body))
            }
        default:
            return change(route, resource, name: name) { current in
                Self.recordingUpdate(by: writer, from: current, to: Self.mergePatch(current, body, strategic: true))
            }
        }
    }

    enum Creating { case never, allowed, only }

    /// One write of the object `name`: `make` turns the stored object (nil if none) into the new one; the status
    /// subresource splits it, the schema admits it, and it is stored. 201 when it created the object.
    private func change(
        _ route: Route, _ resource: ServedResource, name: String, creating: Creating = .never, _ make: (JSONValue?) throws -> JSONValue
    ) -> Reply {
        state.withLockedValue { state in
            let key = route.key(name: name, namespaced: resource.namespaced)
            let current = state.objects[key]
            if current == nil, creating == .never { return Self.notFound(resource, name) }
            if current != nil, creating == .only {
                return Self.status(409, "AlreadyExists", "\(resource.qualifiedName) \"\(name)\" already exists")
            }
            do {
                var object = try make(current)
                if resource.hasStatus, let current {
                    object = Self.splitStatus(written: object, current: current, toStatus: route.subresource == "status")
                }
                object = try Self.admitted(object, at: route).get()
                object = try Self.admittingService(object, current: current, at: route, revision: state.revision + 1)
                try Self.admittingFinalizers(object, current: current)
                let stored = Self.write(object, at: key, type: current == nil ? "ADDED" : "MODIFIED", in: &state)
                return .json(current == nil ? 201 : 200, Self.served(stored, as: route.groupVersion))
            } catch let refusal as ReplyError {
                return refusal.reply
            } catch {
                return Self.status(500, "InternalError", "\(error)")
            }
        }
    }

    /// The status subresource splits writes: a write to /status changes only `status`, a write to the object
    /// everything but `status`.
    private static func splitStatus(written: JSONValue, current: JSONValue, toStatus: Bool) -> JSONValue {
        guard case .object(var fields) = toStatus ? current : written else { return written }
        fields["status"] = toStatus ? written["status"] : current["status"]
        return .object(fields)
    }

    private static func notFound(_ resource: ServedResource, _ name: String) -> Reply {
        status(404, "NotFound", "\(resource.qualifiedName) \"\(name)\" not found")
    }

    private static func conflict(_ resource: ServedResource, _ name: String) -> Reply {
        status(
            409, "Conflict",
            "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
        )
    }

    private func list(_ route: Route, _ resource: ServedResource, _ request: Request) -> Reply {
        let selector = Selector(query: request.query)
        return state.withLockedValue { state in
            let items = state.objects.filter { key, object in
                key.group == route.group && key.resource == route.resource && (route.namespace == nil || key.namespace == route.namespace)
                    && selector.matches(object)
            }.sorted { ObjectKey.ordered($0.key, $1.key) }.map { Self.served($0.value, as: route.groupVersion) }
            let revision = String(state.revision)
            if Self.wantsTable(request.headers["accept"]) {
                return .json(200, Self.table(items, of: resource, includeObject: request.query["includeObject"], resourceVersion: revision))
            }
            return .json(200, [
                "kind": .string(resource.kind + "List"), "apiVersion": .string(route.groupVersion), "metadata": ["resourceVersion": .string(revision)],
                "items": .array(items),
            ])
        }
    }

    private func watch(_ route: Route, _ resource: ServedResource, _ request: Request) -> Reply {
        let query = request.query
        let table = Self.wantsTable(request.headers["accept"]) ? resource : nil
        let from = query["resourceVersion"].flatMap(Int.init) ?? 0
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let state = self.state
        let compacted = state.withLockedValue { from > 0 && from < $0.compactedThrough }
        if compacted {
            let gone: JSONValue = [
                "type": "ERROR",
                "object": [
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired",
                    "message": .string("too old resource version: \(from)"),
                ],
            ]
            return .watch(gone, register: nil)
        }
        // As the API server does, a watch that asks for `timeoutSeconds` is ended (cleanly) after that long.
        let timeout = query["timeoutSeconds"].flatMap(Int.init).flatMap { $0 > 0 ? Duration.seconds($0) : nil }
        return .watch(nil) { send, close in
            let id: UInt64? = state.withLockedValue { state in
                if state.stalledWatches { return nil }
                let watcher = Watcher(
                    groupVersion: route.groupVersion, resource: route.resource, namespace: route.namespace, bookmarks: bookmarks,
                    selector: Selector(query: query), table: table, includeObject: query["includeObject"], send: send, close: close
                )
                // History first (from a resourceVersion), or the current objects as ADDED (from none), then live.
                if from > 0 {
                    for change in state.history where change.revision > from && watcher.matches(change.key) {
                        if let event = watcher.event(change.type, change.object) { send(event) }
                    }
                } else {
                    for (key, object) in state.objects.sorted(by: { ObjectKey.ordered($0.key, $1.key) }) where watcher.matches(key) {
                        if let event = watcher.event("ADDED", object) { send(event) }
                    }
                }
                state.nextWatcher += 1
                state.watchers[state.nextWatcher] = watcher
                return state.nextWatcher
            }
            guard let id else { return 0 }
            if let timeout {
                Task {
                    try? await Task.sleep(for: timeout)
                    guard let ended = state.withLockedValue({ $0.watchers.removeValue(forKey: id) }) else { return }
                    ended.close()
                }
            }
            return id
        }
    }

    fileprivate func stopWatching(_ id: UInt64) {
        _ = state.withLockedValue { $0.watchers.removeValue(forKey: id) }
    }

    /// Reads one request whole, answers it, or streams a watch until either side closes.
    private final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: NIOLockedValueBox<KubernetesAPIServer?>
        private var head: HTTPRequestHead?
        private var body = Data()
        private var watcher: UInt64?

        init(server: NIOLockedValueBox<KubernetesAPIServer?>) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head, let server = server.withLockedValue({ $0 }) else { return }
                let components = URLComponents(string: head.uri)
                var query: [String: String] = [:]
                for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
                let request = Request(method: head.method, path: components?.path ?? head.uri, query: query, headers: head.headers, body: body)
                respond(server.handle(request), server: server, keepAlive: head.isKeepAlive, context: context)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let watcher, let server = server.withLockedValue({ $0 }) { server.stopWatching(watcher) }
            context.fireChannelInactive()
        }

        private func respond(_ reply: Reply, server: KubernetesAPIServer, keepAlive: Bool, context: ChannelHandlerContext) {
            switch reply {
            case .silence:
                return
            case .json(let status, let value):
                let bytes = (try? JSONEncoder().encode(value)) ?? Data()
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: "application/json")
                headers.add(name: "content-length", value: String(bytes.count))
                if !keepAlive { headers.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
                let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
                if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
            case .watch(let only, let register):
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: "application/json")
                headers.add(name: "transfer-encoding", value: "chunked")
                // The stream's end closes the connection, so no client may pool it for another call.
                headers.add(name: "connection", value: "close")
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let send: @Sendable (JSONValue) -> Void = { event in
                    var encoded = (try? JSONEncoder().encode(event)) ?? Data()
                    encoded.append(0x0A)
                    let line = encoded
                    loop.execute {
                        let context = bound.value
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: line)))), promise: nil)
                    }
                }
                let close: @Sendable () -> Void = {
                    loop.execute {
                        let context = bound.value
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { _ in
                            context.close(promise: nil)
                        }
                    }
                }
                if let only {
                    send(only)
                    close()
                } else if let register {
                    watcher = register(send, close)
                }
            }
        }
    }
}

extension KubernetesAPIServer.Watcher {
    func matches(_ key: KubernetesAPIServer.ObjectKey) -> Bool {
        key.group == KubernetesAPIServer.group(of: groupVersion) && key.resource == resource && (namespace == nil || key.namespace == namespace)
    }

    /// The watch event for a change to `object`, served in the watch's version (a one-row Table if asked for);
    /// nil when the watch's selectors leave it out.
    func event(_ type: String, _ object: JSONValue) -> JSONValue? {
        guard selector.matches(object) else { return nil }
        let served = KubernetesAPIServer.served(object, as: groupVersion)
        guard let table else { return ["type": .string(type), "object": served] }
        return ["type": .string(type), "object": KubernetesAPIServer.table([served], of: table, includeObject: includeObject, resourceVersion: nil)]
    }
}
