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
    /// Envoy's response flags: `-` none, `NR` no route, `UH` no healthy upstream,
    /// `UF` upstream connection failure, `UC` upstream connection termination, `DC` downstream termination.
    public var responseFlags: String

    public init(
        destinationService: String, destinationNamespace: String = "default", subset: String? = nil,
        version: String? = nil, workload: String? = nil, responseCode: Int, responseFlags: String = "-"
    ) {
        self.workload = workload
        self.destinationService = destinationService
        self.destinationNamespace = destinationNamespace
        self.subset = subset
        self.version = version
        self.responseCode = responseCode
        self.responseFlags = responseFlags
    }
}
