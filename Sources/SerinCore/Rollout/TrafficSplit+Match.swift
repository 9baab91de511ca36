// A/B testing's part of the one rule for the routes a Canary owns: while the release is analysed, each owned
// route gets a route of its own ahead of it, named `NAME-canary-match`, that sends the requests matching the
// Canary's `analysis.match` (within the owned route's own matches) only to the canary; the owned route keeps the
// split's weights. Any route so named is the Canary's: it is removed and put back, so it is never duplicated.
extension TrafficSplit {
    /// The name of the A/B route of the Canary `canary`.
    public static func matchRouteName(for canary: ResourceName) -> String { "\(canary.name)-canary-match" }

    /// Whether a route named `name` is this split's A/B route.
    public func isMatchRoute(named name: String?) -> Bool {
        matchRouteName != nil && name == matchRouteName
    }

    /// The matches of the A/B route ahead of a route matching `own` (empty: every request): each of the Canary's
    /// matches within each of the route's own, so the A/B route never takes a request its owned route would not.
    public func canaryMatches(within own: [RequestMatch]) -> [RequestMatch] {
        let scopes = own.isEmpty ? [RequestMatch()] : own
        return scopes.flatMap { scope in canaryMatch.map { $0.narrowed(to: scope) } }
    }

    /// What a VirtualService's HTTP routes become: the split's A/B and affinity routes removed, each owned route
    /// given the split's destinations, cookies, stickiness and mirror, and preceded by its A/B route while
    /// `canaryMatch` is set and by its affinity routes while the split has `affinity`.
    public func routes(replacing http: [HTTPRoute]) -> [HTTPRoute] {
        var result: [HTTPRoute] = []
        let routes = http.filter { !addsRoute(named: $0.name) }
        for (route, owned) in zip(routes, ownedRoutes(routes.map { $0.destinations.map(\.destination) })) {
            guard owned else {
                result.append(route)
                continue
            }
            if let matchRoute = matchRoute(ahead: route) { result.append(matchRoute) }
            var owned = route
            owned.destinations = withAffinityCookies(destinations(replacing: route.destinations))
            owned.stickiness = stickiness
            result += affinityRoutes(ahead: owned)
            owned.mirror = mirrorPolicy(replacing: route.mirror, canary: owned.destinations[1].destination)
            result.append(owned)
        }
        return result
    }

    /// The A/B route ahead of `owned`: its policies, the Canary's matches within its own, all to the canary.
    func matchRoute(ahead owned: HTTPRoute) -> HTTPRoute? {
        guard !canaryMatch.isEmpty, let name = matchRouteName else { return nil }
        var route = owned
        route.name = name
        route.matches = canaryMatches(within: owned.matches)
        var canary = destinations(replacing: owned.destinations)[1]
        canary.weight = 100
        route.destinations = [canary]
        route.stickiness = nil
        return route
    }
}

extension RequestMatch {
    /// This match limited to requests `scope` also admits: every condition of both, this one's where both set
    /// the same attribute (the Canary's match is what A/B testing is about).
    public func narrowed(to scope: RequestMatch) -> RequestMatch {
        var result = scope
        result.uri = uri ?? scope.uri
        result.scheme = scheme ?? scope.scheme
        result.method = method ?? scope.method
        result.authority = authority ?? scope.authority
        result.headers.merge(headers) { _, mine in mine }
        result.withoutHeaders.merge(withoutHeaders) { _, mine in mine }
        result.queryParams.merge(queryParams) { _, mine in mine }
        result.ignoreUriCase = scope.ignoreUriCase || ignoreUriCase
        if result.gateways.isEmpty { result.gateways = gateways }
        result.port = port ?? scope.port
        return result
    }

    /// The match as people read it on a status card: `header x-canary = insider`, conditions joined by `and`.
    public var summary: String {
        func condition(_ subject: String, _ match: StringMatch) -> String {
            switch match {
            case .exact(let value): return "\(subject) = \(value)"
            case .prefix(let value): return "\(subject) starts with \(value)"
            case .regex(let pattern): return "\(subject) ~ \(pattern.source)"
            case .present: return "\(subject) present"
            }
        }
        var parts: [String] = []
        if let uri { parts.append(condition("uri", uri)) }
        if let method { parts.append(condition("method", method)) }
        if let authority { parts.append(condition("authority", authority)) }
        if let scheme { parts.append(condition("scheme", scheme)) }
        parts += headers.sorted { $0.key < $1.key }.map { condition("header \($0.key)", $0.value) }
        parts += withoutHeaders.sorted { $0.key < $1.key }.map { "not " + condition("header \($0.key)", $0.value) }
        parts += queryParams.sorted { $0.key < $1.key }.map { condition("query \($0.key)", $0.value) }
        if let port { parts.append("port \(port)") }
        return parts.isEmpty ? "every request" : parts.joined(separator: " and ")
    }
}
