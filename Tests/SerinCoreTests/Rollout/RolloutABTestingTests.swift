import Foundation
import SerinCore
import Testing

/// A/B testing (`analysis.match` with `iterations`): while the release is analysed, requests matching the Canary's
/// match take a route of their own to the canary and all others stay on stable; promotion sends everyone to the
/// canary and rollback no one, and both remove that route.
@Suite("Rollout A/B testing")
struct RolloutABTestingTests {
    static let insider = RequestMatch(headers: ["x-canary": .exact("insider")])
    static let cookie = RequestMatch(headers: ["cookie": .regex(try! RegexPattern("^(.*?;)?(canary=always)(;.*)?$"))])

    static func rollout(iterations: Int = 3, threshold: Int = 2, webhooks: [WebhookSpec] = [], promotionStep: Int? = nil) throws -> Rollout {
        var spec = try Fixture.spec(threshold: threshold, webhooks: webhooks)
        spec.analysis.schedule = try WeightSchedule(iterations: iterations)
        spec.analysis.match = [insider, cookie]
        spec.analysis.stepWeightPromotion = promotionStep
        return try Rollout(spec: spec)
    }

    static func splits(_ log: [RolloutAction]) -> [TrafficSplit] {
        log.compactMap { if case .setWeights(let split) = $0 { return split } else { return nil } }
    }

    @Test("matching requests reach the canary from the first iteration until promotion, which sends everyone and drops the match")
    func matchDuringIterationsThenPromotion() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        for _ in 1...3 {
            #expect(driver.rollout.split.canaryMatch == [Self.insider, Self.cookie])
            #expect(driver.rollout.split.canaryWeight == 0)
            try driver.completeInterval(with: .pass)
        }
        let splits = Self.splits(driver.log)
        // 100/0 without the match before the first iteration; the match added once; then 0/100 without it.
        #expect(splits.map(\.canaryWeight) == [0, 0, 100])
        #expect(splits.map(\.canaryMatch.count) == [0, 2, 0])
        #expect(splits.allSatisfy { $0.matchRouteName == "web-canary-match" })
        #expect(driver.log.phases == [.progressing, .promoting, .succeeded])
        #expect(driver.log.messages.contains(
            "web: iteration 1/3: requests matching header x-canary = insider or header cookie ~ ^(.*?;)?(canary=always)(;.*)?$ reach canary web-v2-service, all others stable"))
        #expect(driver.log.messages.contains("web: all 3 iterations passed, promoting canary web-v2-service to 100%"))
    }

    @Test("with stepWeightPromotion the match route stays through the promotion's steps: the cohort tested never goes back to stable")
    func matchThroughPromotionSteps() throws {
        var driver = Driver(try Self.rollout(iterations: 2, promotionStep: 40))
        driver.start(0)
        for _ in 1...2 { try driver.completeInterval(with: .pass) }
        #expect(driver.rollout.status.stage == .promotionSteps)
        var at = 60
        while driver.rollout.status.phase == .promoting, let due = driver.rollout.nextWakeUp {
            at = Int(due.sinceEpoch.components.seconds)
            driver.tick(at)
        }
        #expect(driver.rollout.status.phase == .succeeded)
        let splits = Self.splits(driver.log)
        #expect(splits.map(\.canaryWeight) == [0, 0, 40, 80, 100])
        // The match stands at 40% and 80%, and goes with the last step.
        #expect(splits.map(\.canaryMatch.count) == [0, 2, 2, 2, 0])
    }

    @Test("a rollback takes the match away and leaves all traffic on stable")
    func rollbackRemovesMatch() throws {
        var driver = Driver(try Self.rollout(iterations: 3, threshold: 2))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.split.canaryMatch.count == 2)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.phase == .failed)
        let last = try #require(Self.splits(driver.log).last)
        #expect(last.canaryWeight == 0 && last.canaryMatch.isEmpty && last.matchRouteName == "web-canary-match")
    }

    @Test("no match before the confirm-rollout gate opens; a paused A/B test keeps it; abort removes it")
    func gateAndPause() throws {
        var driver = Driver(try Self.rollout(iterations: 2, webhooks: [Fixture.hook(.confirmRollout)]))
        driver.start(0)
        #expect(driver.rollout.split.canaryMatch.isEmpty)
        try driver.answer(.confirmRollout, .passed, 1)
        #expect(driver.rollout.split.canaryMatch.count == 2)
        driver.send { $0.pause(now: t(2)) }
        #expect(driver.rollout.split.canaryMatch.count == 2)
        driver.send { $0.abort(now: t(3)) }
        #expect(Self.splits(driver.log).last?.canaryMatch.isEmpty == true)
    }

    @Test("an A/B rollout stored mid-analysis is restored with its match and puts the match route back")
    func persistence() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        var restored = try driver.storedAndRestored()
        #expect(restored.spec.analysis.match == [Self.insider, Self.cookie])
        guard case .accepted(let actions) = restored.restored(now: t(61)) else { Issue.record("refused"); return }
        #expect(Self.splits(actions).first?.canaryMatch.count == 2)
    }

    @Test("a new match during the analysis is adopted in place and sets the routes at once")
    func matchChangedInPlace() throws {
        var driver = Driver(try Self.rollout(iterations: 3))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        var spec = driver.rollout.spec
        spec.analysis.match = [RequestMatch(queryParams: ["variant": .exact("b")])]
        let before = driver.log.count
        driver.send { $0.specChanged(spec, now: t(70)) }
        let splits = Self.splits(Array(driver.log[before...]))
        #expect(splits.map(\.canaryMatch) == [spec.analysis.match])
        #expect(driver.rollout.status.stepIndex == 1)
    }

    @Test("match beside weight steps is refused, naming the field")
    func matchNeedsIterations() throws {
        var spec = try Fixture.spec()
        spec.analysis.match = [Self.insider]
        #expect(spec.problems.map(\.field) == ["analysis.match"])
    }

    @Test("status names the strategy abTesting and the match as people read it")
    func status() throws {
        let status = CanaryStatus(rollout: try Self.rollout(), measurements: [])
        #expect(status.strategy == "abTesting")
        #expect(status.abMatch == "header x-canary = insider or header cookie ~ ^(.*?;)?(canary=always)(;.*)?$")
        #expect(status.stepLabel == "iteration -/3")
    }
}

/// `TrafficSplit.routes(replacing:)`: the one rule both routers render for A/B testing.
@Suite("Traffic split A/B route")
struct TrafficSplitMatchRouteTests {
    static let stable = Destination(host: "web-v1-service", port: 80)
    static let canary = Destination(host: "web-v2-service", port: 80)

    static func split(match: [RequestMatch]) -> TrafficSplit {
        TrafficSplit(
            stable: WeightedDestination(destination: stable, weight: 100), canary: WeightedDestination(destination: canary, weight: 0),
            canaryMatch: match, matchRouteName: "web-canary-match")
    }

    static let routes = [
        HTTPRoute(name: "testers", matches: [RequestMatch(headers: ["x-tester": .present])],
                  destinations: [WeightedDestination(destination: canary, weight: 100)]),
        HTTPRoute(name: "api", matches: [RequestMatch(uri: .prefix("/api"))], destinations: [WeightedDestination(destination: stable, weight: 100)]),
    ]

    @Test("the A/B route goes ahead of the owned route, within its matches and to the canary alone; the owned route stays 100% stable")
    func inserted() {
        let result = Self.split(match: [RequestMatch(headers: ["x-canary": .exact("insider")])]).routes(replacing: Self.routes)
        #expect(result.map(\.name) == ["testers", "web-canary-match", "api"])
        #expect(result[1].matches == [RequestMatch(uri: .prefix("/api"), headers: ["x-canary": .exact("insider")])])
        #expect(result[1].destinations == [WeightedDestination(destination: Self.canary, weight: 100)])
        #expect(result[2].destinations.map(\.weight) == [100, 0])
        #expect(result[0] == Self.routes[0])
    }

    @Test("applying again replaces the A/B route, never duplicates it; a split without a match removes it")
    func idempotent() {
        let split = Self.split(match: [RequestMatch(headers: ["x-canary": .exact("insider")])])
        let once = split.routes(replacing: Self.routes)
        #expect(split.routes(replacing: once) == once)
        var changed = split
        changed.canaryMatch = [RequestMatch(queryParams: ["canary": .exact("1")])]
        #expect(changed.routes(replacing: once).count { $0.name == "web-canary-match" } == 1)
        let removed = Self.split(match: []).routes(replacing: once)
        #expect(removed.map(\.name) == ["testers", "api"])
    }
}
