/// What the gateway does with a routed request besides picking a target, compiled from an `HTTPRoute` with
/// Istio's defaults applied and the mirror resolved to a cluster like the targets.
public struct RoutePolicy: Hashable, Sendable, Codable {
    /// How long the whole request may take, retries included; nil is no limit.
    public var timeout: Duration?
    /// The retries the gateway makes: the route's policy or, when the route sets none, Istio's default
    /// (`HTTPRetry.istioDefault`: 2 retries on connect-failure, refused-stream and 503). Nil when the route
    /// sets `attempts: 0`, Istio's way to turn retries off.
    public var retries: HTTPRetry?
    public var fault: HTTPFaultInjection?
    public var headers: RouteHeaders?
    public var rewrite: HTTPRewrite?
    /// When set, the gateway answers with this redirect and the route has no targets.
    public var redirect: HTTPRedirect?
    /// When set, the gateway answers with this response and the route has no targets.
    public var directResponse: HTTPDirectResponse?
    /// Where copies of the requests go (`mirror`, then each of `mirrors`), each with its share.
    public var mirrors: [Mirror]
    public var cors: CorsPolicy?

    public init(
        timeout: Duration? = nil, retries: HTTPRetry? = nil, fault: HTTPFaultInjection? = nil,
        headers: RouteHeaders? = nil, rewrite: HTTPRewrite? = nil, redirect: HTTPRedirect? = nil,
        directResponse: HTTPDirectResponse? = nil, mirror: Mirror? = nil, mirrors: [Mirror] = [], cors: CorsPolicy? = nil
    ) {
        self.cors = cors
        self.timeout = timeout
        self.retries = retries
        self.fault = fault
        self.headers = headers
        self.rewrite = rewrite
        self.redirect = redirect
        self.directResponse = directResponse
        self.mirrors = (mirror.map { [$0] } ?? []) + mirrors
    }

    /// The mirror destination, the cluster it resolved to, and the share of requests copied there.
    public struct Mirror: Hashable, Sendable, Codable {
        public let destination: Destination
        public let cluster: Cluster
        public let percentage: Percent

        public init(destination: Destination, cluster: Cluster, percentage: Percent) {
            self.destination = destination
            self.cluster = cluster
            self.percentage = percentage
        }
    }
}

extension RoutePolicy {
    /// The policy of `route`, its mirror resolved in `config` (a port-less mirror of a service with several ports at
    /// `listenerPort`, as its destinations; a bare host in the VirtualService's `namespace` first).
    public init(compiling route: HTTPRoute, in config: MeshConfig, listenerPort: Int? = nil, from namespace: String? = nil) {
        let retries = route.retries ?? .istioDefault
        self.init(
            timeout: route.timeout,
            retries: retries.attempts > 0 ? retries : nil,
            fault: route.fault, headers: route.headers, rewrite: route.rewrite, redirect: route.redirect,
            directResponse: route.directResponse,
            mirrors: ([route.mirror].compactMap { $0 } + route.mirrors).map { mirror in
                Mirror(
                    destination: mirror.destination,
                    cluster: RouteTable.cluster(for: mirror.destination, in: config, listenerPort: listenerPort, from: namespace),
                    percentage: mirror.percentage
                )
            },
            cors: route.corsPolicy
        )
    }
}
