import MetricsTestKit
import SerinController
import SerinCore
import SerinTesting
import Testing

/// The controller's own metrics as it records them through swift-metrics: what `/metrics` shows of each rollout.
@Suite("Controller metrics", .timeLimit(.minutes(1)))
struct ControllerMetricsTests {
    static let web = ControllerHarness.web
    static let labels = [("name", "web"), ("namespace", "shop")]

    static func gauge(_ family: ControllerMetricFamily, _ harness: ControllerHarness, _ extra: [(String, String)] = []) throws -> Double? {
        try harness.ownMetrics.expectGauge(family.rawValue, labels + extra).lastValue
    }

    static func analyses(_ result: String, _ harness: ControllerHarness) throws -> Int64 {
        try harness.ownMetrics.expectCounter(ControllerMetricFamily.analyses.rawValue, labels + [("result", result)]).totalValue
    }

    @Test("the weight, phase and failed-check gauges follow the rollout, and each analysis is counted by its verdict")
    func gaugesFollowTheRollout() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10, 50, 80], threshold: 3)])
            #expect(try Self.gauge(.weight, harness) == 10)
            #expect(try Self.gauge(.phase, harness, [("phase", "Progressing")]) == 1)
            #expect(try Self.gauge(.phase, harness, [("phase", "Initialized")]) == 0)
            await harness.advance(by: .seconds(30))
            #expect(try Self.gauge(.weight, harness) == 50)
            #expect(try Self.analyses("pass", harness) == 1)
            let timer = try harness.ownMetrics.expectTimer(ControllerMetricFamily.analysisDuration.rawValue, Self.labels)
            #expect(timer.values.count == 1, "the time each analysis's readings took")
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.advance(by: .seconds(30))
            #expect(try Self.gauge(.failedChecks, harness) == 1)
            #expect(try Self.analyses("fail", harness) == 1)
            #expect(try Self.gauge(.weight, harness) == 50, "a failed check holds the weight")
        }
    }

    @Test("a deleted Canary's series go with it")
    func deletedCanaryIsForgotten() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10, 50], threshold: 3)])
            #expect(!harness.ownMetrics.recorders(label: ControllerMetricFamily.weight.rawValue).isEmpty)
            await harness.reconcile([])
            for family in [ControllerMetricFamily.weight, .phase, .failedChecks] {
                #expect(harness.ownMetrics.recorders(label: family.rawValue).isEmpty, "\(family.rawValue)")
            }
            #expect(harness.ownMetrics.counters(label: ControllerMetricFamily.analyses.rawValue).isEmpty)
        }
    }

    @Test("a restarted controller shows the stored rollouts' weights before anything else happens")
    func restoredRolloutsAreShown() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore(log: CallLog())
        try await ControllerHarness.run(store: store, clock: clock) { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10, 50], threshold: 3)])
            await harness.advance(by: .seconds(30))
        }
        try await ControllerHarness.run(store: store, clock: clock) { harness in
            let weight = try Self.gauge(.weight, harness)
            let progressing = try Self.gauge(.phase, harness, [("phase", "Progressing")])
            #expect(weight == 50)
            #expect(progressing == 1)
        }
    }

    @Test("restoring again (a new leader's term) drops the series of a Canary the store no longer holds")
    func restoreDropsForgottenCanaries() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10, 50], threshold: 3)])
            #expect(!harness.ownMetrics.recorders(label: ControllerMetricFamily.weight.rawValue).isEmpty)
            try await harness.store.delete(Self.web)
            try await harness.controller.restore()
            #expect(harness.ownMetrics.recorders(label: ControllerMetricFamily.weight.rawValue).isEmpty)
        }
    }
}
