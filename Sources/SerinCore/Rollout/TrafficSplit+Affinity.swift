// The sticky canary's part of the one rule for the routes a Canary owns (`analysis.sessionAffinity`, Flagger's
// shape). While the release is analysed, the canary destination of each owned route sets the release's cookie,
// and a route named `NAME-canary-affinity` ahead of it sends requests carrying that cookie only to the canary;
// with a primary cookie, the stable destination sets it and `NAME-primary-affinity` keeps its clients on stable.
// Once the release ends, the same routes send the cookies' holders where the weights say and expire the cookies
// (`Max-Age=-1`), so nobody stays pinned. Routes so named are the Canary's: removed and put back, never doubled.
extension TrafficSplit {
    /// A sticky canary's cookies for one release: their names, the release's value, and whether they pin now.
    public struct Affinity: Hashable, Sendable {
        public var cookieName: String
        public var primaryCookieName: String?
        /// The release's cookie value, the same for every client (as Flagger's): a new release, a new value.
        public var value: String
        /// Seconds a client keeps a cookie.
        public var maxAge: Int
        /// The cookies' other attributes (`Domain`, `Path`, `SameSite`...).
        public var attributes: CookieAttributes
        /// True while the release is analysed; false once it ended: the affinity routes then expire the cookies.
        public var pins: Bool
        /// `NAME-canary-affinity`.
        public var canaryRouteName: String
        /// `NAME-primary-affinity`.
        public var primaryRouteName: String

        public init(_ affinity: SessionAffinity, canary: ResourceName, value: String, pins: Bool) {
            cookieName = affinity.cookieName
            primaryCookieName = affinity.primaryCookieName
            maxAge = affinity.maxAge
            attributes = affinity.attributes
            self.value = value
            self.pins = pins
            canaryRouteName = "\(canary.name)-canary-affinity"
            primaryRouteName = "\(canary.name)-primary-affinity"
        }

        /// The `Set-Cookie` value that gives a client the cookie `name`, or (once the release ended) takes it away
        /// (with the same `Domain` and `Path`, without which a browser keeps it).
        public func setCookie(_ name: String) -> String {
            "\(name)=\(value); Max-Age=\(pins ? maxAge : -1)\(attributes.text)"
        }

        /// Requests whose `cookie` header carries the cookie `name` with the release's value.
        public func carrying(_ name: String) -> RequestMatch {
            let escaped = name.map { #".^$*+?()[]{}|\"#.contains($0) ? "\\\($0)" : String($0) }.joined()
            // The whole cookie, not the end of another's name: `primary-flagger-cookie=ID` must not carry
            // `flagger-cookie=ID` (the header is `a=1; b=2`, matched whole). The value is hexadecimal and the name
            // escaped: the pattern always compiles.
            let pattern = try! RegexPattern("(.*;\\s*)?\(escaped)=\(value)(\\s*;.*)?")
            return RequestMatch(headers: ["cookie": .regex(pattern)])
        }

        /// Whether a `Set-Cookie` value is one of these cookies' (any release's), which Serin replaces.
        public func isOwn(setCookie: String) -> Bool {
            SessionAffinity(cookieName: cookieName, primaryCookieName: primaryCookieName).sets(setCookie)
        }

        /// The release's cookie value: a hash of what tells releases apart, as 16 hexadecimal digits.
        public static func value(canary: ResourceName, release: String) -> String {
            let hash = FNV1a.hash("\(canary)/\(release)".utf8)
            let hex = String(SplitMix64.mix(hash), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    /// Whether a route named `name` is one of this split's affinity routes.
    public func isAffinityRoute(named name: String?) -> Bool {
        guard let affinity, let name else { return false }
        return name == affinity.canaryRouteName || name == affinity.primaryRouteName
    }

    /// `destinations` with the split's cookies: any `Set-Cookie` of these cookies removed, then, while the release
    /// is analysed, the canary (last) setting the canary cookie and the stable (first) the primary cookie.
    public func withAffinityCookies(_ destinations: [WeightedDestination]) -> [WeightedDestination] {
        guard let affinity else { return destinations }
        return destinations.enumerated().map { offset, weighted in
            var weighted = weighted
            var headers = weighted.headers ?? RouteHeaders()
            if let written = headers.response.add[Self.setCookie], affinity.isOwn(setCookie: written) {
                headers.response.add[Self.setCookie] = nil
            }
            if let cookie = affinityCookie(at: offset, of: destinations.count) { headers.response.add[Self.setCookie] = cookie }
            weighted.headers = headers == RouteHeaders() ? nil : headers
            return weighted
        }
    }

    /// The `Set-Cookie` value the destination at `offset` of an owned route's `count` sets: while the release is
    /// analysed, the canary's (last) the canary cookie and the stable's (first) the primary cookie; otherwise nil.
    public func affinityCookie(at offset: Int, of count: Int) -> String? {
        guard let affinity, affinity.pins else { return nil }
        let cookie = offset == count - 1 ? affinity.cookieName : offset == 0 ? affinity.primaryCookieName : nil
        return cookie.map(affinity.setCookie)
    }

    /// The affinity routes ahead of `owned` (already given the split's destinations and cookies): while the
    /// release is analysed, the canary cookie's to the canary and the primary cookie's to the stable, each setting
    /// its cookie again (a client active for longer than `maxAge` keeps it); after it, each cookie's to the owned
    /// route's destinations, expiring that cookie.
    func affinityRoutes(ahead owned: HTTPRoute) -> [HTTPRoute] {
        guard let affinity else { return [] }
        var pinned = [(affinity.canaryRouteName, affinity.cookieName, owned.destinations.count - 1)]
        if let primary = affinity.primaryCookieName { pinned.append((affinity.primaryRouteName, primary, 0)) }
        return pinned.map { name, cookie, side in
            var route = owned
            route.name = name
            let scopes = owned.matches.isEmpty ? [RequestMatch()] : owned.matches
            route.matches = scopes.map { affinity.carrying(cookie).narrowed(to: $0) }
            route.stickiness = nil
            if affinity.pins {
                var destination = owned.destinations[side]
                destination.weight = 100
                route.destinations = [destination]
            } else {
                route.destinations = owned.destinations.map { weighted in
                    var weighted = weighted
                    var headers = weighted.headers ?? RouteHeaders()
                    headers.response.add[Self.setCookie] = affinity.setCookie(cookie)
                    weighted.headers = headers
                    return weighted
                }
            }
            return route
        }
    }

    /// The header name Serin's cookies are set under, as the model keeps names (lower-case).
    public static let setCookie = "set-cookie"
}
