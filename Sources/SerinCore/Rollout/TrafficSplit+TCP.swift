// The TCP part of the one rule for the routes a Canary owns: a tcp route sending to the stable gets the split's
// stable and canary weights, exactly as an http route does. A/B matches, mirrors, stickiness and cookies are HTTP's —
// a plain TCP connection carries nothing to match or copy — so a tcp route takes the weights alone.
extension TrafficSplit {
    /// What a VirtualService's TCP routes become: each owned route given exactly the split's destinations; the others
    /// left as written.
    public func routes(replacing tcp: [TCPRoute]) -> [TCPRoute] {
        zip(tcp, ownedRoutes(tcp.map { $0.destinations.map(\.destination) })).map { route, owned in
            guard owned else { return route }
            var route = route
            route.destinations = destinations(replacing: route.destinations)
            return route
        }
    }
}
