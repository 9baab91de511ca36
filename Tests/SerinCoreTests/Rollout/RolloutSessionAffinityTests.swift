import Foundation
import SerinCore
import Testing

/// The sticky canary (`analysis.sessionAffinity`): while the release is analysed the canary's responses set the
/// release's cookie and a route ahead of the weighted one keeps its holders on the canary (the primary cookie
/// likewise on stable); promotion and rollback turn those routes into ones that follow the weights and expire the
/// cookies, so nobody stays pinned to a version that no longer takes its share.
@Suite("Rollout session affinity")
struct RolloutSessionAffinityTests {
    static let affinity = SessionAffinity(cookieName: "flagger-cookie", maxAge: 21_600, primaryCookieName: "flagger-primary-cookie")
    static let stable = Destination(host: "web-v1-service", port: 80)
    static let canary = Destination(host: "web-v2-service", port: 80)
    static let userHeaders = RouteHeaders(response: HeaderOperations(add: ["x-served-by": "mesh"]))
    static let routes = [
        HTTPRoute(name: "api", matches: [RequestMatch(uri: .prefix("/api"))],
                  destinations: [WeightedDestination(destination: stable, weight: 100, headers: userHeaders)]),
    ]

    static func rollout(primary: Bool = true, threshold: Int = 2) throws -> Rollout {
        var spec = try Fixture.spec(threshold: threshold)
        spec.analysis.sessionAffinity = primary ? affinity : SessionAffinity(cookieName: "flagger-cookie")
        return try Rollout(spec: spec)
    }

    static func splits(_ log: [RolloutAction]) -> [TrafficSplit] {
        log.compactMap { if case .setWeights(let split) = $0 { return split } else { return nil } }
    }

    static func setCookie(_ weighted: WeightedDestination) -> String? { weighted.headers?.response.add["set-cookie"] }

    @Test("while analysed, the canary sets the release's cookie and its holders take a route to the canary alone; the stable's cookie keeps its holders on stable")
    func pinsWhileAnalysed() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        let split = driver.rollout.split
        let affinity = try #require(split.affinity)
        #expect(split.canaryWeight == 10 && affinity.pins)
        #expect(affinity.value.count == 16)
        let routes = split.routes(replacing: Self.routes)
        #expect(routes.map(\.name) == ["web-canary-affinity", "web-primary-affinity", "api"])
        let owned = routes[2]
        #expect(owned.destinations.map(\.weight) == [90, 10])
        #expect(Self.setCookie(owned.destinations[1]) == "flagger-cookie=\(affinity.value); Max-Age=21600; Path=/")
        #expect(Self.setCookie(owned.destinations[0]) == "flagger-primary-cookie=\(affinity.value); Max-Age=21600; Path=/")
        // The user's own header change on the entry stays beside the cookie.
        #expect(owned.destinations[0].headers?.response.add["x-served-by"] == "mesh")
        // Each affinity route keeps the owned route's match and adds the cookie's.
        let canaryRoute = routes[0]
        #expect(canaryRoute.destinations.map(\.destination) == [Self.canary] && canaryRoute.destinations[0].weight == 100)
        #expect(canaryRoute.matches.count == 1 && canaryRoute.matches[0].uri == .prefix("/api"))
        let pattern = try #require(canaryRoute.matches[0].headers["cookie"])
        guard case .regex(let regex) = pattern else { Issue.record("not a regex: \(pattern)"); return }
        #expect(regex.matchesWhole("a=1; flagger-cookie=\(affinity.value); b=2"))
        #expect(!regex.matchesWhole("flagger-cookie=0000000000000000"))
        for header in ["flagger-cookie=\(affinity.value)", "flagger-cookie=\(affinity.value);a=1", "a=1;flagger-cookie=\(affinity.value)", "flagger-cookie=\(affinity.value) ; b=2"] {
            #expect(regex.matchesWhole(header), "\(header)")
        }
        // Only the whole cookie: another cookie's name ending in it, or its value with more after it, is not it.
        for header in ["x-flagger-cookie=\(affinity.value)", "a=1; primary-flagger-cookie=\(affinity.value)", "flagger-cookie=\(affinity.value)0"] {
            #expect(!regex.matchesWhole(header), "\(header)")
        }
        #expect(routes[1].destinations.map(\.destination) == [Self.stable] && routes[1].destinations[0].weight == 100)
        // Stepping the weight keeps the same cookie: a client pinned at 10% stays pinned at 50%.
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.split.canaryWeight == 50 && driver.rollout.split.affinity == affinity)
    }

    @Test("promotion ends the pinning: the affinity routes follow the weights (all to the canary) and expire both cookies")
    func promotionExpires() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        let value = try #require(driver.rollout.split.affinity?.value)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.phases.contains(.promoting))
        let last = try #require(Self.splits(driver.log).last)
        #expect(last.canaryWeight == 100 && last.affinity?.pins == false)
        let routes = last.routes(replacing: Self.routes)
        #expect(routes.map(\.name) == ["web-canary-affinity", "web-primary-affinity", "api"])
        #expect(routes[0].destinations.map(\.weight) == [0, 100])
        #expect(routes[0].destinations.allSatisfy { Self.setCookie($0) == "flagger-cookie=\(value); Max-Age=-1; Path=/" })
        #expect(routes[1].destinations.map(\.weight) == [0, 100])
        #expect(routes[1].destinations.allSatisfy { Self.setCookie($0) == "flagger-primary-cookie=\(value); Max-Age=-1; Path=/" })
        #expect(routes[2].destinations.allSatisfy { Self.setCookie($0) == nil })
    }

    @Test("rollback ends the pinning: the canary cookie's holders follow the weights to stable and lose the cookie")
    func rollbackExpires() throws {
        var driver = Driver(try Self.rollout(primary: false, threshold: 1))
        driver.start(0)
        let value = try #require(driver.rollout.split.affinity?.value)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.phase == .failed)
        let last = try #require(Self.splits(driver.log).last)
        let routes = last.routes(replacing: Self.routes)
        #expect(routes.map(\.name) == ["web-canary-affinity", "api"])
        #expect(routes[0].destinations.map(\.weight) == [100, 0])
        #expect(routes[0].destinations.allSatisfy { Self.setCookie($0) == "flagger-cookie=\(value); Max-Age=-1; Path=/" })
        #expect(routes[1].destinations.allSatisfy { Self.setCookie($0) == nil })
    }

    @Test("applying the split again replaces its affinity routes and cookies, never doubles them; without sessionAffinity nothing is added")
    func idempotent() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        let split = driver.rollout.split
        let once = split.routes(replacing: Self.routes)
        #expect(split.routes(replacing: once) == once)
        var ended = split
        ended.affinity?.pins = false
        let expired = ended.routes(replacing: once)
        #expect(expired.count { $0.name == "web-canary-affinity" } == 1 && expired.count == 3)
        #expect(split.routes(replacing: expired) == once)
        var plain = Driver(try Rollout(spec: try Fixture.spec()))
        plain.start(0)
        #expect(plain.rollout.split.affinity == nil)
        #expect(plain.rollout.split.routes(replacing: Self.routes).map(\.name) == ["api"])
    }

    @Test("a stored rollout keeps its release's cookie value; the next release gets another")
    func valuePerRelease() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        let value = try #require(driver.rollout.split.affinity?.value)
        #expect(try driver.storedAndRestored().split.affinity?.value == value)
        #expect(try driver.storedAndRestored().spec.analysis.sessionAffinity == Self.affinity)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        var next = driver.rollout.spec
        next.canary = Fixture.nextCanary
        next.stable = nil
        driver.send { $0.specChanged(next, now: t(500)) }
        if driver.rollout.status.phase.isFinished { driver.send { $0.restart(now: t(500)) } }
        let nextValue = try #require(driver.rollout.split.affinity?.value)
        #expect(nextValue != value)
    }

    @Test("a route the Canary owns that adds a Set-Cookie of its own refuses the sticky canary, saying why; an earlier release's Serin cookie does not")
    func ownSetCookieRefused() throws {
        let spec = try Self.rollout().spec
        func routes(stableCookie: String) -> ServingRoutes {
            let headers = RouteHeaders(response: HeaderOperations(add: ["set-cookie": stableCookie]))
            return ServingRoutes(virtualService: Fixture.target, routes: [[
                WeightedDestination(destination: Fixture.stable, weight: 100, headers: headers),
                WeightedDestination(destination: Fixture.canary, weight: 0),
            ]])
        }
        let refused = routes(stableCookie: "session=abc; Path=/").stable(for: spec)
        #expect(refused == .failure(.setCookieInUse(Fixture.stable, virtualService: Fixture.target)))
        if case .failure(let conflict) = refused {
            #expect(conflict.description == "VirtualService web-virtualservice's route to web-v1-service already adds a Set-Cookie "
                + "response header (headers.response.add), which analysis.sessionAffinity needs for its cookie (Istio adds one "
                + "value per header); set that cookie in the application, or drop sessionAffinity; nothing was changed")
        }
        #expect(routes(stableCookie: "flagger-primary-cookie=0123; Max-Age=-1; Path=/").stable(for: spec) == .success(Fixture.stable))
    }
}
