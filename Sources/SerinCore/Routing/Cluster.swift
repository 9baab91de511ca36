/// The endpoints one weighted destination sends to: a service port, narrowed to a subset when named, with the
/// traffic policy its DestinationRule sets for the connections to them.
public struct Cluster: Hashable, Sendable, Codable {
    /// Envoy-style name, `outbound|80|v1|web-v1-service`, stable across reconfigurations.
    public let name: String
    /// The service host as the route named it.
    public let host: String
    public let subset: String?
    public let port: Int
    /// The service the host resolved to; nil when it resolves to nothing (every request gets 503).
    public let service: ResourceName?
    public let endpoints: [Endpoint]
    /// Connection limits and outlier detection: the subset's policy merged over its DestinationRule's.
    public let trafficPolicy: TrafficPolicy
    /// Whether requests go to the endpoints over HTTP/2: the port speaks it (HTTP2, GRPC), or the DestinationRule
    /// says `h2UpgradePolicy: UPGRADE` (and DO_NOT_UPGRADE keeps HTTP/1.1 even on such a port).
    public let speaksHTTP2: Bool
    /// `useClientProtocol`: a request goes upstream in the protocol it came in, and `speaksHTTP2` is not consulted.
    public let usesClientProtocol: Bool
    /// Whether `trafficPolicy` sets any section: kept apart because every request asks, and reading it from the
    /// policy copies the whole policy.
    public let hasTrafficPolicy: Bool
    /// Whether requests weigh the endpoints' requests in flight (`LEAST_REQUEST`, Istio's default when `loadBalancer`
    /// says nothing): set only with more than one endpoint, where there is a choice to make.
    public let balancesByLoad: Bool
    /// The order the endpoints take their turns in, by their weights (empty when they are equal).
    public let schedule: EndpointSchedule
    /// Each endpoint's priority level by locality (`PriorityLevels`), when locality load balancing applies: the
    /// gateway has a locality, the endpoints are at several distances from it, and outlier detection is on (as in
    /// Istio, failover needs it to ever move). Empty: the endpoints are balanced as one level.
    public let priorities: [Int]

    /// Whether a request that came in over HTTP/2 (`downstreamHTTP2`), or over HTTP/1, goes to the endpoints over HTTP/2.
    public func upstreamHTTP2(downstreamHTTP2: Bool) -> Bool {
        usesClientProtocol ? downstreamHTTP2 : speaksHTTP2
    }

    /// One address to open connections to.
    public struct Endpoint: Hashable, Sendable, Codable {
        public let address: String
        public let port: Int
        public let labels: [String: String]
        /// The Deployment behind this endpoint, when the manifests say.
        public let workload: String?
        /// Its share of the cluster's requests against the others' (a ServiceEntry endpoint's `weight`); 1 unless set.
        public let weight: Int
        /// Where it runs (a ServiceEntry endpoint's `locality`), for locality load balancing.
        public let locality: Locality?

        public init(
            address: String, port: Int, labels: [String: String] = [:], workload: String? = nil, weight: Int = 1, locality: Locality? = nil
        ) {
            self.address = address
            self.port = port
            self.labels = labels
            self.workload = workload
            self.weight = max(weight, 1)
            self.locality = locality
        }
    }

    public init(
        host: String, subset: String?, port: Int, service: ResourceName?, endpoints: [Endpoint],
        trafficPolicy: TrafficPolicy = TrafficPolicy(), portSpeaksHTTP2: Bool = false, gatewayLocality: Locality? = nil
    ) {
        self.name = "outbound|\(port)|\(subset ?? "")|\(host)"
        self.host = host
        self.subset = subset
        self.port = port
        self.service = service
        self.endpoints = endpoints
        self.trafficPolicy = trafficPolicy
        self.speaksHTTP2 = trafficPolicy.connectionPool?.http.upgradesToHTTP2 ?? portSpeaksHTTP2
        self.usesClientProtocol = trafficPolicy.connectionPool?.http.usesClientProtocol ?? false
        self.hasTrafficPolicy = !trafficPolicy.isEmpty
        self.schedule = EndpointSchedule(weights: endpoints.map(\.weight))
        let balancer = trafficPolicy.loadBalancer
        let locality = balancer?.locality ?? LocalityLoadBalancing()
        // As Istio: `distribute` weighs the localities instead of ranking them.
        if let gatewayLocality, locality.enabled, locality.distribute.isEmpty, trafficPolicy.outlierDetection != nil {
            self.priorities = PriorityLevels.levels(of: endpoints.map { ($0.locality, $0.labels) }, from: gatewayLocality, setting: locality)
        } else {
            self.priorities = []
        }
        self.balancesByLoad = endpoints.count > 1 && balancer?.consistentHash == nil && (balancer?.simple ?? .leastRequest) == .leastRequest
    }

    /// Round-robin choice, by the endpoints' weights: the caller owns the counter, so this stays a pure function.
    public func endpoint(forTurn turn: Int) -> Endpoint? {
        guard !endpoints.isEmpty else { return nil }
        return endpoints[schedule.endpoint(forTurn: turn, count: endpoints.count)]
    }
}

