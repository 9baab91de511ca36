import Foundation

/// The Kubernetes API as the controller uses it: raw objects in and out, JSON Patch with `test` guards,
/// updates checked against resourceVersion, and watches. A port: the HTTP client implements it against a real
/// API server (or the test double); nothing above it knows about HTTP.
public protocol KubernetesAPI: Sendable {
    func get(_ path: ResourcePath) async throws -> JSONValue
    /// The items and the list's resourceVersion, to watch from.
    func list(_ path: ResourcePath) async throws -> (items: [JSONValue], resourceVersion: String)
    /// Changes after `resourceVersion` (or every object as ADDED, without one) until the server ends the watch.
    /// A `KubernetesAPIError` with code 410 means the resourceVersion is too old: list again.
    func watch(_ path: ResourcePath, from resourceVersion: String?) -> AsyncThrowingStream<WatchEvent, any Error>
    func create(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue
    /// PUT: fails with 409 when `object`'s resourceVersion is not the stored one.
    func replace(_ path: ResourcePath, _ object: JSONValue) async throws -> JSONValue
    /// `application/json-patch+json`: fails whole with 422 when a `test` operation fails.
    func patch(_ path: ResourcePath, _ operations: [JSONPatchOperation]) async throws -> JSONValue
}

/// An API path: `/apis/serin.dev/v1alpha1/namespaces/default/canaries/web/status`.
public struct ResourcePath: Hashable, Sendable, CustomStringConvertible {
    /// `v1` for the core group, `GROUP/VERSION` otherwise.
    public var groupVersion: String
    public var resource: String
    /// Nil for every namespace (a cluster-wide list or watch).
    public var namespace: String?
    public var name: String?
    public var subresource: String?

    public init(groupVersion: String, resource: String, namespace: String?, name: String? = nil, subresource: String? = nil) {
        self.groupVersion = groupVersion
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
    }

    /// Serin's own Canaries (`CanaryGroup.serin`).
    public static func canaries(namespace: String?, name: String? = nil) -> ResourcePath {
        CanaryGroup.serin.path(namespace: namespace, name: name)
    }

    public static func virtualService(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "networking.istio.io/v1beta1", resource: "virtualservices", namespace: namespace, name: name)
    }

    public static func deployment(namespace: String, name: String) -> ResourcePath {
        ResourcePath(groupVersion: "apps/v1", resource: "deployments", namespace: namespace, name: name)
    }

    public static func lease(namespace: String, name: String? = nil) -> ResourcePath {
        ResourcePath(groupVersion: "coordination.k8s.io/v1", resource: "leases", namespace: namespace, name: name)
    }

    public static func events(namespace: String) -> ResourcePath {
        ResourcePath(groupVersion: "v1", resource: "events", namespace: namespace)
    }

    /// The same object's status subresource.
    public var status: ResourcePath {
        var path = self
        path.subresource = "status"
        return path
    }

    public var description: String {
        var text = groupVersion.contains("/") ? "/apis/\(groupVersion)" : "/api/\(groupVersion)"
        if let namespace { text += "/namespaces/\(namespace)" }
        text += "/\(resource)"
        if let name { text += "/\(name)" }
        if let subresource { text += "/\(subresource)" }
        return text
    }
}

/// One change a watch delivers.
public enum WatchEvent: Sendable, Equatable {
    case added(JSONValue)
    case modified(JSONValue)
    case deleted(JSONValue)
    /// No object changed; the watch is current up to this resourceVersion.
    case bookmark(resourceVersion: String)

    /// The resourceVersion to resume a watch from after this event.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object["metadata"]?["resourceVersion"]?.stringValue
        case .bookmark(let version): version
        }
    }

    /// A line of a watch stream: `{"type": "...", "object": {...}}`. ERROR lines throw their Status.
    public init(line: JSONValue) throws {
        let object = line["object"] ?? .null
        switch line["type"]?.stringValue {
        case "ADDED": self = .added(object)
        case "MODIFIED": self = .modified(object)
        case "DELETED": self = .deleted(object)
        case "BOOKMARK": self = .bookmark(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "")
        case "ERROR": throw KubernetesAPIError(status: object)
        default: throw KubernetesAPIError(code: 0, reason: "BadWatchEvent", message: "unexpected watch line \(line)")
        }
    }
}

/// A failed call, from the API server's Status object: the code and reason a controller acts on
/// (409 Conflict and 422 Invalid mean "read again and recompute", 410 Gone "list again").
public struct KubernetesAPIError: Error, Equatable, CustomStringConvertible {
    public let code: Int
    public let reason: String
    public let message: String

    public init(code: Int, reason: String, message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    public init(status: JSONValue, httpCode: Int? = nil) {
        self.init(
            code: status["code"]?.intValue ?? httpCode ?? 0, reason: status["reason"]?.stringValue ?? "Unknown",
            message: status["message"]?.stringValue ?? "\(status)"
        )
    }

    /// Someone else changed the object since it was read.
    public var isConflict: Bool { code == 409 || (code == 422 && message.contains("Testing value")) }
    public var isGone: Bool { code == 410 }
    public var isNotFound: Bool { code == 404 }

    public var description: String { "\(code) \(reason): \(message)" }
}
