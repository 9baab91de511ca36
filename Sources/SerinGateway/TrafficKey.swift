/// The identity of one proxied-traffic series: where it went and how it ended, as Istio labels it.
public struct TrafficKey: Hashable, Sendable, Codable {
    /// The destination host as the route named it (`web-v1-service`); `unknown` when no route matched.
    public var destinationService: String
    public var destinationNamespace: String
    public var subset: String?
    /// The endpoint's `version` label, when it has one.
    public var version: String?
    /// The Deployment behind the endpoint, when the manifests say.
    public var workload: String?
    public var responseCode: Int
    /// How the request ended, as Envoy flags it (`-`, `NR`, `UF`…).
    public var responseFlags: ResponseFlag
    /// A copy sent by a route's `mirror` (its answer dropped, no client waiting), counted apart from live
    /// requests: `request_kind="mirror"` in Prometheus.
    public var mirrored: Bool

    public init(
        destinationService: String, destinationNamespace: String = "default", subset: String? = nil,
        version: String? = nil, workload: String? = nil, responseCode: Int, responseFlags: ResponseFlag = .noFlag,
        mirrored: Bool = false
    ) {
        self.mirrored = mirrored
        self.workload = workload
        self.destinationService = destinationService
        self.destinationNamespace = destinationNamespace
        self.subset = subset
        self.version = version
        self.responseCode = responseCode
        self.responseFlags = responseFlags
    }
}
