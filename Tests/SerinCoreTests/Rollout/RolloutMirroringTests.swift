import Foundation
import SerinCore
import Testing

/// Blue/green with mirroring (`analysis.mirror` + `mirrorWeight`, with `iterations`): while the iterations are
/// analysed, the owned routes stay 100% stable and copy a share of their requests to the canary, which is judged on
/// those copies; promotion and rollback take the copy away.
@Suite("Rollout blue/green with mirroring")
struct RolloutMirroringTests {
    static func rollout(iterations: Int = 3, threshold: Int = 2, mirror: Percent? = Percent(50), webhooks: [WebhookSpec] = []) throws -> Rollout {
        var spec = try Fixture.spec(threshold: threshold, webhooks: webhooks)
        spec.analysis.schedule = try WeightSchedule(iterations: iterations)
        spec.analysis.mirror = mirror
        return try Rollout(spec: spec)
    }

    static func splits(_ log: [RolloutAction]) -> [TrafficSplit] {
        RolloutABTestingTests.splits(log)
    }

    @Test("the canary is mirrored from the first iteration until promotion, which sends everyone to it and drops the mirror")
    func mirrorDuringIterationsThenPromotion() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        for _ in 1...3 {
            #expect(driver.rollout.split.mirror == Percent(50))
            #expect(driver.rollout.split.canaryWeight == 0)
            try driver.completeInterval(with: .pass)
        }
        let splits = Self.splits(driver.log)
        // 100/0 without a mirror before the first iteration; the mirror added once; then 0/100 without it.
        #expect(splits.map(\.canaryWeight) == [0, 0, 100])
        #expect(splits.map(\.mirror) == [nil, Percent(50), nil])
        #expect(driver.log.phases == [.progressing, .promoting, .succeeded])
        #expect(driver.log.messages.contains(
            "web: iteration 1/3: canary web-v2-service takes no live traffic, a copy of 50% of requests is mirrored to it"))
    }

    @Test("each analysis asks for the canary's mirrored traffic while it mirrors, and plain blue/green's for live traffic", arguments: [Percent(50), nil])
    func analysisReadsMirroredTraffic(mirror: Percent?) throws {
        var driver = Driver(try Self.rollout(iterations: 2, mirror: mirror))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        let requests = driver.log.analysisRequests
        #expect(!requests.isEmpty && requests.allSatisfy { $0.canaryMirrored == (mirror != nil) && $0.canaryWeight == 0 })
    }

    @Test("a rollback takes the mirror away and leaves all traffic on stable")
    func rollbackRemovesMirror() throws {
        var driver = Driver(try Self.rollout(iterations: 3, threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.split.mirror == Percent(50))
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.phase == .failed)
        let last = try #require(Self.splits(driver.log).last)
        #expect(last.canaryWeight == 0 && last.mirror == nil)
    }

    @Test("no mirror before the confirm-rollout gate opens; a paused rollout keeps it; abort removes it")
    func gateAndPause() throws {
        var driver = Driver(try Self.rollout(iterations: 2, webhooks: [Fixture.hook(.confirmRollout)]))
        driver.start(0)
        #expect(driver.rollout.split.mirror == nil)
        try driver.answer(.confirmRollout, .passed, 1)
        #expect(driver.rollout.split.mirror == Percent(50))
        driver.send { $0.pause(now: t(2)) }
        #expect(driver.rollout.split.mirror == Percent(50))
        driver.send { $0.abort(now: t(3)) }
        #expect(Self.splits(driver.log).last?.mirror == nil)
    }

    @Test("a mirroring rollout stored mid-analysis is restored with its mirror and puts it back")
    func persistence() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        var restored = try driver.storedAndRestored()
        #expect(restored.spec.analysis.mirror == Percent(50))
        guard case .accepted(let actions) = restored.restored(now: t(61)) else { Issue.record("refused"); return }
        #expect(Self.splits(actions).first?.mirror == Percent(50))
    }

    @Test("mirror beside weight steps that do not start with the mirrored step, or beside an A/B match, is refused, naming the field; so is a share of 0")
    func mirrorNeedsPlainIterations() throws {
        var steps = try Fixture.spec()
        steps.analysis.mirror = .all
        #expect(steps.problems.map(\.field) == ["analysis.mirror"])
        #expect(steps.problems.first?.message.contains("start with a mirrored step at weight 0") == true)
        var unshared = try Fixture.spec()
        unshared.analysis.schedule = try WeightSchedule(mirroringFirst: unshared.analysis.schedule)
        #expect(unshared.problems.map(\.field) == ["analysis.mirror"])

        var ab = try Fixture.spec()
        ab.analysis.schedule = try WeightSchedule(iterations: 2)
        ab.analysis.match = [RequestMatch(headers: ["x-canary": .exact("insider")])]
        ab.analysis.mirror = .all
        #expect(ab.problems.map(\.field) == ["analysis.mirror"])

        var none = try Fixture.spec()
        none.analysis.schedule = try WeightSchedule(iterations: 2)
        none.analysis.mirror = Percent(0)
        #expect(none.problems.map(\.field) == ["analysis.mirrorWeight"])
    }

    @Test("Flagger's mirroring before weight steps: the first step copies requests at weight 0 and is judged on the copies; the next raises the weight and drops the mirror")
    func mirroredFirstStep() throws {
        var spec = try Fixture.spec(webhooks: [Fixture.hook(.confirmTrafficIncrease)])
        spec.analysis.schedule = try WeightSchedule(mirroringFirst: WeightSchedule(stepWeights: [20, 60]))
        spec.analysis.mirror = Percent(40)
        #expect(spec.problems.isEmpty, "\(spec.problems)")
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        #expect(driver.rollout.split.mirror == Percent(40) && driver.rollout.split.canaryWeight == 0)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.analysisRequests.allSatisfy { $0.canaryMirrored && $0.canaryWeight == 0 })
        // The weights' first rise waits on confirm-traffic-increase, as every rise does; the mirror stands meanwhile.
        #expect(driver.rollout.status.stage == .confirmTrafficIncrease && driver.rollout.split.mirror == Percent(40))
        let mirroring = CanaryStatus(rollout: driver.rollout, measurements: [])
        #expect(mirroring.mirroring == true && mirroring.mirrorsNow && mirroring.mirrorWeight == 40)
        try driver.answer(.confirmTrafficIncrease, .passed, 70)
        #expect(driver.rollout.split.mirror == nil && driver.rollout.split.canaryWeight == 20)
        let splits = Self.splits(driver.log)
        #expect(splits.map(\.canaryWeight) == [0, 0, 20])
        #expect(splits.map(\.mirror) == [nil, Percent(40), nil])
        #expect(driver.log.messages.contains(
            "web: step 1/3: canary web-v2-service takes no live traffic, a copy of 40% of requests is mirrored to it"))
        #expect(driver.log.messages.contains("web: advance canary weight to 20%"))
        let status = CanaryStatus(rollout: driver.rollout, measurements: [])
        #expect(status.strategy == "canary" && status.stepLabel == "step 2/3")
        #expect(status.mirroring == nil && !status.mirrorsNow, "no copy once the weight rose")
    }

    @Test("a check failed on mirrored copies says so in the history and the release's reason; one failed on live traffic does not")
    func failureOnCopiesSaysSo() throws {
        var spec = try Fixture.spec(threshold: 2)
        spec.analysis.schedule = try WeightSchedule(mirroringFirst: WeightSchedule(stepWeights: [20, 60]))
        spec.analysis.mirror = Percent(40)
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 67.07% < 99%"))
        #expect(driver.log.messages.last == "web: halt: request-success-rate 67.07% < 99% on mirrored copies (1/2 failed checks)", "\(driver.log.messages)")
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.split.canaryWeight == 20 && driver.rollout.split.mirror == nil)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 71.71% < 99%"))
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.releases.last?.reason == "request-success-rate 71.71% < 99% (2/2 failed checks)", "live traffic: \(driver.log.messages)")
    }

    @Test("status names the strategy blueGreenMirroring and the mirrored share")
    func status() throws {
        let status = CanaryStatus(rollout: try Self.rollout(mirror: Percent(25)), measurements: [])
        #expect(status.strategy == "blueGreenMirroring")
        #expect(status.mirrorWeight == 25)
        #expect(status.stepLabel == "iteration -/3")
    }
}

/// `TrafficSplit.routes(replacing:)`: the one rule both routers render for blue/green's mirror.
@Suite("Traffic split mirror")
struct TrafficSplitMirrorTests {
    static let stable = Destination(host: "web-v1-service", port: 80)
    static let canary = Destination(host: "web-v2-service")
    static let audit = HTTPMirrorPolicy(destination: Destination(host: "audit-service"), percentage: Percent(5))

    static func split(mirror: Percent?) -> TrafficSplit {
        TrafficSplit(
            stable: WeightedDestination(destination: stable, weight: 100), canary: WeightedDestination(destination: canary, weight: 0),
            mirror: mirror)
    }

    static let routes = [
        HTTPRoute(name: "api", destinations: [WeightedDestination(destination: stable, weight: 100)], mirror: audit),
        HTTPRoute(name: "other", destinations: [WeightedDestination(destination: Destination(host: "other-service"), weight: 100)], mirror: audit),
    ]

    @Test("an owned route mirrors to the canary at the route's port with the split's share; routes not owned keep their own mirror")
    func mirrored() {
        let result = Self.split(mirror: Percent(30)).routes(replacing: Self.routes)
        #expect(result[0].mirror == HTTPMirrorPolicy(destination: Destination(host: "web-v2-service", port: 80), percentage: Percent(30)))
        #expect(result[0].destinations.map(\.weight) == [100, 0])
        #expect(result[1] == Self.routes[1])
    }

    @Test("without a mirror the split removes the one it set, and never a user's mirror to another host")
    func removedButUsersKept() {
        let mirrored = Self.split(mirror: .all).routes(replacing: Self.routes)
        let after = Self.split(mirror: nil).routes(replacing: mirrored)
        #expect(after[0].mirror == nil)
        #expect(Self.split(mirror: nil).routes(replacing: Self.routes)[0].mirror == Self.audit)
        #expect(Self.split(mirror: .all).routes(replacing: mirrored) == mirrored)
    }

    @Test("a route's mirrors stay beside the canary's copy while the split mirrors, and after; the gateway copies to all of them")
    func mirrorsKept() throws {
        var listing = HTTPRoute(name: "api", destinations: [WeightedDestination(destination: Self.stable, weight: 100)])
        listing.mirrors = [Self.audit]
        let mirrored = Self.split(mirror: Percent(30)).routes(replacing: [listing])[0]
        #expect(mirrored.mirrors == [Self.audit] && mirrored.mirror?.destination.host == "web-v2-service")
        let policy = RoutePolicy(compiling: mirrored, in: MeshConfig())
        #expect(policy.mirrors.map(\.destination.host) == ["web-v2-service", "audit-service"])
        let after = Self.split(mirror: nil).routes(replacing: [mirrored])[0]
        #expect(after.mirror == nil && after.mirrors == [Self.audit])
    }
}
