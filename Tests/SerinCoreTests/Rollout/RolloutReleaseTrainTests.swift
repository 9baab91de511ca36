import Foundation
import SerinCore
import Testing

@Suite("Releases after the first")
struct RolloutReleaseTrainTests {
    static let v1 = Fixture.stable
    static let v2 = Fixture.canary
    static let v3 = Fixture.nextCanary
    static let v4 = Destination(host: "web-v4-service")

    /// A spec releasing `canary` with no stable written: Serin takes what serves.
    static func next(_ canary: Destination) throws -> CanarySpec {
        var spec = try Fixture.spec(canary: canary)
        spec.stable = nil
        return spec
    }

    /// Starts the next release the way the controller does: the new spec, then `rollout` for a finished one.
    static func release(_ canary: Destination, on driver: inout Driver, at now: Int) throws {
        let spec = try next(canary)
        driver.send { $0.specChanged(spec, now: t(now)) }
        if driver.rollout.status.phase.isFinished { driver.send { $0.restart(now: t(now)) } }
    }

    static func promoted() throws -> Driver {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.promote(now: t(5)) }
        return driver
    }

    @Test("promotion hands the stable role to the canary in the same step that sends it all traffic")
    func promotionHandsOver() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        #expect(driver.rollout.status.servingStable == Self.v1)
        let outcome = driver.send { $0.promote(now: t(5)) }
        #expect(outcome.actions.canaryWeights == [100])
        #expect(driver.rollout.status.servingStable == Self.v2)
        #expect(driver.rollout.status.releases.map(\.outcome) == [.promoted])
    }

    @Test("the next canary is released against the promoted version, and the one it replaced leaves the route in the same change")
    func nextReleaseStartsFromPromoted() throws {
        var driver = try Self.promoted()
        let before = driver.log.count
        try Self.release(Self.v3, on: &driver, at: 10)
        let splits = driver.log[before...].compactMap { action -> TrafficSplit? in
            if case .setWeights(let split) = action { return split }
            return nil
        }
        #expect(splits.first == TrafficSplit(
            stable: WeightedDestination(destination: Self.v2, weight: 100),
            canary: WeightedDestination(destination: Self.v3, weight: 0),
            retiring: [Self.v1]))
        // No weight change of this release names v1 as anything but a version to take out.
        #expect(splits.allSatisfy { $0.stable.destination == Self.v2 && $0.canary.destination == Self.v3 })
        #expect(driver.rollout.status.canaryWeight == 10)
        #expect(driver.log.messages.contains("web: rollout started: canary web-v3-service, stable web-v2-service"))
    }

    @Test("a rollback keeps the stable: the release after it starts from the same version")
    func rollbackKeepsStable() throws {
        var driver = try Self.promoted()
        try Self.release(Self.v3, on: &driver, at: 10)
        driver.send { $0.abort(now: t(20)) }
        #expect(driver.rollout.status.servingStable == Self.v2)
        #expect(driver.log.canaryWeights.last == 0)
        try Self.release(Self.v4, on: &driver, at: 30)
        #expect(driver.rollout.status.stable == Self.v2)
        #expect(driver.rollout.status.canary == Self.v4)
    }

    @Test("the train is recorded: v1 → v2 promoted, v2 → v3 rolled back with the reason, v2 → v4 promoted")
    func trainIsRecorded() throws {
        var driver = try Self.promoted()
        try Self.release(Self.v3, on: &driver, at: 10)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 70% < 99%"))
        try driver.completeInterval(with: .fail(reason: "request-success-rate 65% < 99%"))
        try Self.release(Self.v4, on: &driver, at: 200)
        driver.send { $0.promote(now: t(210)) }
        let releases = driver.rollout.status.releases
        #expect(releases.map(\.summary) == [
            "web-v1-service → web-v2-service Promoted",
            "web-v2-service → web-v3-service RolledBack: request-success-rate 65% < 99% (2/2 failed checks)",
            "web-v2-service → web-v4-service Promoted",
        ])
        #expect(releases.allSatisfy { $0.endedAt != nil })
    }

    @Test(
        "after v1 → v2 and v2 → v4 promoted and v4 → v3 rolled back, the split still owns a route to v1 or v2: files written for the first release, reloaded after a restart, lose every retired version"
    )
    func everyRetiredVersionIsTheCanarys() throws {
        var driver = try Self.promoted()
        try Self.release(Self.v4, on: &driver, at: 10)
        driver.send { $0.promote(now: t(20)) }
        try Self.release(Self.v3, on: &driver, at: 30)
        driver.send { $0.abort(now: t(40)) }
        let split = driver.rollout.split
        #expect(split.stable.destination == Self.v4 && split.stable.weight == 100)
        #expect(split.retiring == [Self.v2, Self.v1])
        #expect(split.owns([Self.v1]) && split.owns([Self.v2]) && split.owns([Self.v4]))
        // A route only to the canary is still the user's.
        #expect(!split.owns([Self.v3]))
        // The seed's route, v1 at 100, becomes the split's: all traffic on v4.
        #expect(split.destinations(replacing: [WeightedDestination(destination: Self.v1, weight: 100)]).map(\.destination) == [Self.v4, Self.v3])
    }

    @Test("a new canary mid-release supersedes the one in flight")
    func supersededRelease() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.specChanged(try! Fixture.spec(canary: Self.v3), now: t(5)) }
        #expect(driver.rollout.status.releases.map(\.outcome) == [.superseded, .progressing])
        #expect(driver.rollout.status.releases.first?.reason == "replaced by canary web-v3-service")
        #expect(driver.rollout.status.stable == Self.v1)
    }

    @Test("a release started again with the same canary (serin rollout mid-release) is superseded as started again, not as replaced by itself")
    func restartedReleaseIsNotReplaced() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        driver.send { $0.restart(now: t(5)) }
        #expect(driver.rollout.status.releases.map(\.outcome) == [.superseded, .progressing])
        #expect(driver.rollout.status.releases.first?.reason == "started again from the first step, with the same canary")
    }

    @Test("a written stable that no longer serves is refused, naming both and what to write; nothing moves")
    func staleStableRefused() throws {
        var driver = try Self.promoted()
        let before = driver.rollout
        let stale = try Fixture.spec(canary: Self.v3)  // still says stable: web-v1-service
        let outcome = driver.send { $0.specChanged(stale, now: t(10)) }
        #expect(outcome == .rejected(.releaseConflict(.stableNotServing(written: Self.v1, serving: Self.v2))))
        #expect(outcome.rejection?.description == "spec.stable is web-v1-service, but web-v2-service serves now; remove "
            + "spec.stable (Serin releases from what serves) or write stable: {host: web-v2-service}; nothing was changed")
        #expect(driver.rollout == before)
        // Naming what serves is as good as leaving it out.
        var confirmed = stale
        confirmed.stable = Self.v2
        #expect(driver.send { $0.specChanged(confirmed, now: t(11)) }.rejection == nil)
    }

    @Test("`rollout` after a promotion is refused: the canary already serves all traffic")
    func rolloutAfterPromotionRefused() throws {
        var driver = try Self.promoted()
        #expect(driver.rollout.status.phase == .succeeded)
        let before = driver.rollout
        let outcome = driver.send { $0.restart(now: t(10)) }
        #expect(outcome == .rejected(.releaseConflict(.canaryAlreadyServes(Self.v2))))
        #expect(driver.rollout == before)
    }

    @Test("a canary that names the version serving now is refused")
    func canaryThatServesRefused() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        let outcome = driver.send { $0.specChanged(try! Self.next(Self.v1), now: t(5)) }
        #expect(outcome == .rejected(.releaseConflict(.canaryAlreadyServes(Self.v1))))
    }

    @Test("a rollout stored at the handover and restored re-applies all traffic to the promoted version")
    func restoredAtHandover() throws {
        let driver = try Self.promoted()
        let stored = try JSONEncoder().encode(driver.rollout)
        var restored = try JSONDecoder().decode(Rollout.self, from: stored)
        let actions = restored.restored(now: t(100)).actions
        #expect(actions.first == .setWeights(TrafficSplit(
            stable: WeightedDestination(destination: Self.v1, weight: 0),
            canary: WeightedDestination(destination: Self.v2, weight: 100))))
        #expect(restored.status.servingStable == Self.v2)
    }

    @Test("state stored before releases were recorded still loads, with an empty train")
    func oldStateLoads() throws {
        var driver = Driver(try Fixture.rollout())
        driver.start(0)
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(driver.rollout)) as? [String: Any])
        var status = try #require(json["status"] as? [String: Any])
        status["releaseLog"] = nil
        status["retiredStable"] = nil
        json["status"] = status
        let rollout = try JSONDecoder().decode(Rollout.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(rollout.status.releases.isEmpty)
        #expect(rollout.status.servingStable == Self.v1)
    }
}

@Suite("What serves now")
struct ServingRoutesTests {
    static let target = Fixture.target

    static func route(_ weights: (String, Int)...) -> [WeightedDestination] {
        weights.map { WeightedDestination(destination: Destination(host: $0.0, port: 80), weight: $0.1) }
    }

    static func spec(stable: String? = nil, canary: String) throws -> CanarySpec {
        var spec = try Fixture.spec(canary: Destination(host: canary))
        spec.stable = stable.map { Destination(host: $0) }
        return spec
    }

    @Test("the seed's route, v1 alone, makes v1 the stable")
    func seedRoute() throws {
        let routes = ServingRoutes(virtualService: Self.target, routes: [Self.route(("web-v1-service", 100))])
        #expect(try routes.stable(for: Self.spec(canary: "web-v2-service")).get() == Destination(host: "web-v1-service", port: 80))
    }

    @Test("routes that name the canary decide; the others are not the Canary's")
    func routesNamingCanaryDecide() throws {
        let routes = ServingRoutes(virtualService: Self.target, routes: [
            Self.route(("api-service", 100)), Self.route(("web-v1-service", 90), ("web-v2-service", 10)),
        ])
        #expect(try routes.stable(for: Self.spec(canary: "web-v2-service")).get().host == "web-v1-service")
    }

    @Test("what cannot be a release start is refused with the reason", arguments: [
        ("canary already serves", [[("web-v1-service", 0), ("web-v2-service", 100)]], nil, "web-v2-service",
         ReleaseConflict.canaryAlreadyServes(Destination(host: "web-v2-service"))),
        ("two versions serve", [[("web-a", 100)], [("web-b", 100)]], nil, "web-c",
         .ambiguousStable([Destination(host: "web-a", port: 80), Destination(host: "web-b", port: 80)], virtualService: Fixture.target)),
        ("written stable was replaced", [[("web-v1-service", 0), ("web-v2-service", 100)]], "web-v1-service", "web-v3-service",
         .stableNotServing(written: Destination(host: "web-v1-service"), serving: Destination(host: "web-v2-service", port: 80))),
        // A version the routes no longer name (promoted past) is said as one that does not serve: with what does.
        ("written stable not routed", [[("web-v1-service", 100)]], "web-v7-service", "web-v2-service",
         .stableNotServing(written: Destination(host: "web-v7-service"), serving: Destination(host: "web-v1-service", port: 80))),
        ("written stable not routed, only the canary serves", [[("web-v2-service", 100)]], "web-v7-service", "web-v2-service",
         .noRoute(to: Destination(host: "web-v7-service"), virtualService: Fixture.target)),
    ] as [(String, [[(String, Int)]], String?, String, ReleaseConflict)])
    func refused(_ name: String, routes: [[(String, Int)]], stable: String?, canary: String, expected: ReleaseConflict) throws {
        let serving = ServingRoutes(virtualService: Self.target, routes: routes.map { route in
            route.map { WeightedDestination(destination: Destination(host: $0.0, port: 80), weight: $0.1) }
        })
        #expect(serving.stable(for: try Self.spec(stable: stable, canary: canary)) == .failure(expected))
    }

    @Test("a release from v1 to v3 over a route split 90/10 between v1 and v2 displaces v2's 10%; a route not the split's, or at weight 0, displaces nothing")
    func displacedVersions() {
        let routes = ServingRoutes(virtualService: Self.target, routes: [
            Self.route(("web-v1-service", 90), ("web-v2-service", 10), ("web-v4-service", 0)), Self.route(("api-service", 100)),
        ])
        let v1 = Destination(host: "web-v1-service", port: 80)
        #expect(routes.displaced(stable: v1, canary: Destination(host: "web-v3-service")) == Self.route(("web-v2-service", 10)))
        #expect(routes.displaced(stable: v1, canary: Destination(host: "web-v2-service")).isEmpty)
        // Weights are relative, as Istio's: v1 3 / v2 1 gives v2 a quarter of the traffic, said as 25%.
        let relative = ServingRoutes(virtualService: Self.target, routes: [Self.route(("web-v1-service", 3), ("web-v2-service", 1))])
        #expect(relative.displaced(stable: v1, canary: Destination(host: "web-v3-service")) == Self.route(("web-v2-service", 25)))
    }

    @Test("a VirtualService with no route to the stable (written before a release made another version stable) gives the rollout its routes to the canary; beside one to the stable, a canary-only route stays the user's")
    func releasingAVersionTheFileRoutesTo() {
        // v2 was promoted; the next release brings v1 back. The seed's file routes everything to v1.
        let split = TrafficSplit(
            stable: WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 80),
            canary: WeightedDestination(destination: Destination(host: "web-v1-service"), weight: 20))
        let file = [Self.route(("web-v1-service", 100)).map(\.destination), Self.route(("api-service", 100)).map(\.destination)]
        #expect(split.ownedRoutes(file) == [true, false])
        #expect(split.destinations(replacing: Self.route(("web-v1-service", 100))) == [
            WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: 80),
            WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 20),
        ])
        // A preview route by header to the canary alone, beside the main route to the stable: the user's.
        let preview = [Self.route(("web-v1-service", 100)).map(\.destination), Self.route(("web-v2-service", 100)).map(\.destination)]
        #expect(split.ownedRoutes(preview) == [false, true])
    }

    @Test("a split owns routes to the stable or a retiring version, never a route only to the canary")
    func splitOwnership() {
        let split = TrafficSplit(
            stable: WeightedDestination(destination: Destination(host: "web-v2-service"), weight: 100),
            canary: WeightedDestination(destination: Destination(host: "web-v3-service"), weight: 0),
            retiring: [Destination(host: "web-v1-service")])
        #expect(split.owns([Destination(host: "web-v1-service", port: 80)]))
        #expect(split.owns([Destination(host: "web-v2-service", port: 80)]))
        #expect(!split.owns([Destination(host: "web-v3-service", port: 80)]))
        // The file's route (v1 alone) becomes v2 and v3 on v1's port.
        #expect(split.destinations(replacing: Self.route(("web-v1-service", 100))) == [
            WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: 100),
            WeightedDestination(destination: Destination(host: "web-v3-service", port: 80), weight: 0),
        ])
    }
}
