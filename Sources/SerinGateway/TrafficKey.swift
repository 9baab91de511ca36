import SerinCore

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
    /// The endpoint's `app` label (Istio's `destination_app`), when it has one.
    public var app: String?
    /// The endpoint's canonical service and revision, as Istio derives them from its labels
    /// (`destination_canonical_service`, `destination_canonical_revision`).
    public var canonicalService: String?
    public var canonicalRevision: String?
    /// Whether the gateway reached the endpoint over mutual TLS (a DestinationRule's `MUTUAL`): Istio's
    /// `connection_security_policy`.
    public var mutualTLS: Bool = false
    public var responseCode: Int
    /// How the request ended, as Envoy flags it (`-`, `NR`, `UF`…).
    public var responseFlags: ResponseFlag
    /// Who sent the request: a client, a route's `mirror`, or Serin's synthetic load (`request_kind` in Prometheus).
    public var kind: RequestKind
    /// A gRPC answer's `grpc-status` (from its trailers, or its headers when it had no body): Istio's
    /// `grpc_response_status`; nil for requests that are not gRPC.
    public var grpcStatus: String?

    public init(
        destinationService: String, destinationNamespace: String = "default", subset: String? = nil,
        version: String? = nil, workload: String? = nil, responseCode: Int, responseFlags: ResponseFlag = .noFlag,
        kind: RequestKind = .live, grpcStatus: String? = nil
    ) {
        self.kind = kind
        self.grpcStatus = grpcStatus
        self.workload = workload
        self.destinationService = destinationService
        self.destinationNamespace = destinationNamespace
        self.subset = subset
        self.version = version
        self.responseCode = responseCode
        self.responseFlags = responseFlags
    }
}

extension TrafficKey {
    /// Whether the request failed as the success rate counts it: a 5xx, or a gRPC status a 5xx stands for.
    public var isServerError: Bool {
        responseCode >= 500 || grpcStatus.map(GRPCStatusCodes.serverFaults.contains) == true
    }

    /// The series of a request `cluster`'s `endpoint` answered: the destination as the route named it, and the
    /// endpoint's version and workload.
    init(cluster: Cluster, endpoint: Cluster.Endpoint, responseCode: Int, responseFlags: ResponseFlag, kind: RequestKind = .live) {
        self.init(
            destinationService: cluster.host, destinationNamespace: cluster.service?.namespace ?? ResourceName.defaultNamespace,
            subset: cluster.subset, version: endpoint.labels["version"], workload: endpoint.workload,
            responseCode: responseCode, responseFlags: responseFlags, kind: kind
        )
        let labels = endpoint.labels
        app = labels["app"]
        canonicalService = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"]
            ?? endpoint.workload
        canonicalRevision = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"]
            ?? labels["version"]
        mutualTLS = cluster.trafficPolicy.tls?.mode == .mutual
    }
}

/// Who sent a proxied request, counted apart because each says something different about a destination: live
/// requests are what clients got; a `mirror` copy's answer was dropped (no client waited); `synthetic` requests
/// are Serin's own `analysis.load`, sent to judge a quiet canary.
public enum RequestKind: String, Hashable, Sendable, Codable, CaseIterable {
    case live
    case mirror
    case synthetic
}
