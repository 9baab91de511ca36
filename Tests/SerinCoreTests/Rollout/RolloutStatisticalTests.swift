import Foundation
import SerinCore
import Testing

@Suite("Rollout with the statistical judge")
struct RolloutStatisticalTests {
    static func rollout(
        threshold: Int = 5, minStep: Duration = .seconds(10), maxStep: Duration? = nil, deadline: Duration = .seconds(600)
    ) throws -> Rollout {
        var spec = try Fixture.spec(weights: [10, 50], threshold: threshold, interval: .seconds(5), deadline: deadline)
        spec.analysis.judge = JudgeSettings(kind: .statistical, minStepDuration: minStep, maxStepDuration: maxStep)
        return try Rollout(spec: spec)
    }

    static let waiting = Judgement(verdict: .inconclusive(reason: "request-success-rate: not enough traffic to decide: 12 canary requests"), checks: [])
    static let worse = Judgement(verdict: .fail(reason: "request-success-rate: error rate canary 5% vs stable 0.4%: worse"), checks: [], isConclusive: true)

    @Test("each look reads the whole step so far: windows run from when the step's weight was set, and start again at the next step")
    func windowsCoverTheStep() throws {
        var driver = Driver(try Self.rollout(minStep: .zero))
        driver.start(0)
        for at in [5, 10, 15] {
            driver.tick(at)
            driver.send { $0.analysisCompleted(Self.waiting, now: t(at)) }
        }
        #expect(driver.log.analysisRequests.map { $0.metrics.map(\.interval) } == [
            [.seconds(5), .seconds(5)], [.seconds(10), .seconds(10)], [.seconds(15), .seconds(15)],
        ])
        #expect(driver.log.analysisRequests.allSatisfy { $0.judge.kind == .statistical })
        driver.tick(20)
        driver.verdict(.pass, 20)
        #expect(driver.rollout.status.canaryWeight == 50)
        driver.tick(25)
        #expect(driver.log.analysisRequests.last?.metrics.map(\.interval) == [.seconds(5), .seconds(5)])
    }

    @Test("a conclusive failure rolls back at once, however many failed checks the threshold allows")
    func conclusiveFailureRollsBackNow() throws {
        var driver = Driver(try Self.rollout(threshold: 5))
        driver.start(0)
        driver.tick(5)
        driver.send { $0.analysisCompleted(Self.worse, now: t(5)) }
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.rollout.status.failedChecks == 1)
        #expect(driver.log.messages.contains("web: rolled back: request-success-rate: error rate canary 5% vs stable 0.4%: worse"))
    }

    @Test("a step shown no worse before minStepDuration holds, without an event per look, and advances once it has lasted that long")
    func minimumStepDuration() throws {
        var driver = Driver(try Self.rollout(minStep: .seconds(30)))
        driver.start(0)
        let eventsBefore = driver.log.events.count
        for at in [5, 10] {
            driver.tick(at)
            driver.verdict(.pass, at)
            #expect(driver.rollout.status.canaryWeight == 10)
        }
        #expect(driver.rollout.status.holdReason == "shown no worse; the step lasts at least 30s")
        #expect(driver.log.events.count == eventsBefore + 1, "\(driver.log.messages)")
        // Asked again when the minimum is reached, not a whole interval later.
        #expect(driver.rollout.status.nextCheckAt == t(15))
        for at in [15, 20, 25, 30] {
            driver.tick(at)
            driver.verdict(.pass, at)
        }
        #expect(driver.rollout.status.canaryWeight == 50)
        #expect(driver.log.messages.last == "web: advance canary weight to 50%")
    }

    @Test("waiting for evidence is one event per step, its latest reason kept in the status")
    func waitingIsOneEventPerStep() throws {
        var driver = Driver(try Self.rollout())
        driver.start(0)
        for at in [5, 10, 15, 20] {
            driver.tick(at)
            let judgement = Judgement(verdict: .inconclusive(reason: "not enough traffic to decide: \(at) requests"), checks: [])
            driver.send { $0.analysisCompleted(judgement, now: t(at)) }
        }
        #expect(driver.log.messages.filter { $0.contains("waiting for evidence") } == ["web: waiting for evidence: not enough traffic to decide: 5 requests"])
        #expect(driver.rollout.status.holdReason == "not enough traffic to decide: 20 requests")
        #expect(driver.rollout.status.phase == .progressing)
    }

    @Test("a step still undecided at maxStepDuration rolls back, saying it could not decide and why")
    func maximumStepDuration() throws {
        var driver = Driver(try Self.rollout(maxStep: .seconds(60)))
        driver.start(0)
        var at = 0
        while driver.rollout.status.phase == .progressing, at < 120 {
            at += 5
            driver.tick(at)
            driver.send { $0.analysisCompleted(Self.waiting, now: t(at)) }
        }
        #expect(at == 60)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.messages.contains(
            "web: rolled back: undecided after 1m at canary weight 10%, the 1m maxStepDuration: request-success-rate: not enough traffic to decide: 12 canary requests"))
    }

    @Test("without maxStepDuration the progress deadline ends an undecided release, naming the traffic it had")
    func progressDeadlineSaysNotEnoughTraffic() throws {
        var driver = Driver(try Self.rollout(deadline: .seconds(60)))
        driver.start(0)
        for at in stride(from: 5, through: 55, by: 5) {
            driver.tick(at)
            driver.send { $0.analysisCompleted(Self.waiting, now: t(at)) }
        }
        driver.tick(60)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.messages.contains(
            "web: rolled back: no progress within the 1m progress deadline at canary weight 10%: request-success-rate: not enough traffic to decide: 12 canary requests"))
    }

    @Test("a Canary stored before judges were chosen reads back with the threshold judge")
    func storedSpecsWithoutAJudge() throws {
        let spec = try Fixture.spec()
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec.analysis)) as? [String: Any])
        #expect(object.removeValue(forKey: "judge") != nil)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let decoded = try JSONDecoder().decode(AnalysisSpec.self, from: Data(json.utf8))
        #expect(decoded.judge == .threshold && decoded == spec.analysis)
    }
}
