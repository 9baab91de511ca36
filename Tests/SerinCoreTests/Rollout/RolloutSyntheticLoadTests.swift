import Foundation
import SerinCore
import Testing

/// `analysis.load`: while the canary is analysed the rollout asks for synthetic requests to canary and stable, and
/// stops asking the moment it is no longer analysed (promotion, rollback, pause), so the load never outlives the
/// analysis it serves.
@Suite("Rollout synthetic load")
struct RolloutSyntheticLoadTests {
    static let load = SyntheticLoad(rps: 5, path: "/healthz", headers: ["x-load": "serin"], duration: .seconds(10))

    static func rollout(load: SyntheticLoad? = Self.load, weights: [Int] = [10, 50], threshold: Int = 2) throws -> Rollout {
        var spec = try Fixture.spec(weights: weights, threshold: threshold, interval: .seconds(30))
        spec.analysis.load = load
        return try Rollout(spec: spec)
    }

    static func plans(_ log: [RolloutAction]) -> [LoadPlan] {
        log.compactMap { if case .sendLoad(let plan) = $0 { plan } else { nil } }
    }

    static func stops(_ log: [RolloutAction]) -> Int {
        log.count { if case .stopLoad(Fixture.name) = $0 { true } else { false } }
    }

    @Test("each step's analysis asks for the load to canary and stable, for its duration in every interval")
    func planPerStep() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        let first = try #require(Self.plans(driver.log).first)
        #expect(first == LoadPlan(
            canaryName: Fixture.name, canary: Fixture.canary, stable: Fixture.stable, load: Self.load,
            interval: .seconds(30), duration: .seconds(10)))
        #expect(first.requestsPerInterval == 50)
        try driver.completeInterval(with: .pass)
        #expect(Self.plans(driver.log).count == 2, "the next step asks again, with the same destinations")
        #expect(Self.stops(driver.log) == 0)
    }

    @Test("without a duration the load runs the whole interval; never past it")
    func durationDefaultsToInterval() throws {
        var driver = Driver(try Self.rollout(load: SyntheticLoad(rps: 2)))
        driver.start(0)
        #expect(Self.plans(driver.log).first?.duration == .seconds(30))
        #expect(Self.plans(driver.log).first?.requestsPerInterval == 60)
    }

    @Test("promotion stops the load once, and nothing asks for it afterwards")
    func promotionStops() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(Self.stops(driver.log) == 1)
        let stop = try #require(driver.log.lastIndex { if case .stopLoad = $0 { true } else { false } })
        #expect(Self.plans(Array(driver.log[stop...])).isEmpty)
    }

    @Test("a rollback stops the load")
    func rollbackStops() throws {
        var driver = Driver(try Self.rollout(threshold: 1))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 90.00 < 99"))
        #expect(driver.rollout.status.phase == .failed)
        #expect(Self.stops(driver.log) == 1)
    }

    @Test("pause stops the load and resume asks for it again")
    func pauseAndResume() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        driver.send { $0.pause(now: t(5)) }
        #expect(Self.stops(driver.log) == 1)
        let before = Self.plans(driver.log).count
        driver.send { $0.resume(now: t(10)) }
        #expect(Self.plans(driver.log).count == before + 1)
    }

    @Test("a rollout restored mid-analysis asks for its load again; one without analysis.load never asks")
    func restoredAndAbsent() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        var restored = try driver.storedAndRestored()
        guard case .accepted(let actions) = restored.restored(now: t(20)) else { Issue.record("refused"); return }
        #expect(Self.plans(actions).count == 1)

        var quiet = Driver(try Self.rollout(load: nil))
        quiet.start(0)
        try quiet.completeInterval(with: .pass)
        try quiet.completeInterval(with: .pass)
        #expect(Self.plans(quiet.log).isEmpty && Self.stops(quiet.log) == 0)
    }

    @Test("a changed load during the analysis applies at once; removing it stops it")
    func changedInPlace() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        var spec = driver.rollout.spec
        spec.analysis.load?.rps = 20
        driver.send { $0.specChanged(spec, now: t(5)) }
        #expect(Self.plans(driver.log).last?.load.rps == 20)
        spec.analysis.load = nil
        driver.send { $0.specChanged(spec, now: t(6)) }
        #expect(Self.stops(driver.log) == 1)
    }
}
