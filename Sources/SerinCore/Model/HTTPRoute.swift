/// One entry of a VirtualService's `http` list: if any match holds, traffic goes to the weighted destinations,
/// under the route's policies (timeout, retries, faults, header changes, rewrite, mirror); or the gateway
/// answers itself with a redirect or a direct response, and `destinations` is empty.
public struct HTTPRoute: Hashable, Sendable {
    public var name: String?
    /// OR of matches; empty matches every request.
    public var matches: [RequestMatch]
    public var destinations: [WeightedDestination]
    /// How long the whole request may take, retries included; nil is no limit (Istio's default).
    public var timeout: Duration?
    /// The retry policy as written; nil when the route sets none (`RoutePolicy` then applies Istio's default).
    public var retries: HTTPRetry?
    public var fault: HTTPFaultInjection?
    public var headers: RouteHeaders?
    public var rewrite: HTTPRewrite?
    public var redirect: HTTPRedirect?
    public var directResponse: HTTPDirectResponse?
    public var mirror: HTTPMirrorPolicy?
    /// Istio's `mirrors`: more destinations, each with its own share, that copies of the requests go to (Istio refuses
    /// a route with both `mirror` and `mirrors`; a Canary's mirroring may add its `mirror` beside them).
    public var mirrors: [HTTPMirrorPolicy]
    public var corsPolicy: CorsPolicy?
    /// Set by a Canary's rollout (`analysis.stickiness`), never written in a VirtualService: the request key
    /// whose point picks the destination, the last destination taking the lowest points.
    public var stickiness: Stickiness?
    /// Istio's `delegate`: the VirtualService (one with no hosts) whose http routes stand in for this one, each
    /// merged with it (`merged(into:)`); `destinations` is then empty.
    public var delegate: ResourceName?

    public init(
        name: String? = nil, matches: [RequestMatch] = [], destinations: [WeightedDestination],
        timeout: Duration? = nil, retries: HTTPRetry? = nil, fault: HTTPFaultInjection? = nil,
        headers: RouteHeaders? = nil, rewrite: HTTPRewrite? = nil, redirect: HTTPRedirect? = nil,
        directResponse: HTTPDirectResponse? = nil, mirror: HTTPMirrorPolicy? = nil, mirrors: [HTTPMirrorPolicy] = [],
        corsPolicy: CorsPolicy? = nil
    ) {
        self.mirrors = mirrors
        self.corsPolicy = corsPolicy
        self.name = name
        self.matches = matches
        self.destinations = destinations
        self.timeout = timeout
        self.retries = retries
        self.fault = fault
        self.headers = headers
        self.rewrite = rewrite
        self.redirect = redirect
        self.directResponse = directResponse
        self.mirror = mirror
    }
}
