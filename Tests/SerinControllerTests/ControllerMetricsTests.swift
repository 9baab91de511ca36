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

    static func flagger(_ family: ControllerMetricFamily, _ harness: ControllerHarness, _ labels: [(String, String)] = labels) throws -> Double? {
        try harness.ownMetrics.expectGauge(family.rawValue, labels).lastValue
    }

    static func releases(_ family: ControllerMetricFamily, _ harness: ControllerHarness) throws -> Int64 {
        try harness.ownMetrics.expectCounter(family.rawValue, labels + [("deployment_strategy", "canary"), ("analysis_status", "completed")]).totalValue
    }

    @Test("Flagger's families, under Flagger's names and labels: status 0 while it runs and 2 once rolled back, NAME-primary and NAME's weights, each metric's last value (request-duration in seconds, as Flagger's), the rollback counted once, the namespace's total")
    func flaggerFamiliesFollowARollback() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10, 50], threshold: 1)])
            #expect(try Self.flagger(.flaggerStatus, harness) == 0)
            #expect(try Self.flagger(.flaggerWeight, harness, [("workload", "web-primary"), ("namespace", "shop")]) == 90)
            #expect(try Self.flagger(.flaggerWeight, harness, [("workload", "web"), ("namespace", "shop")]) == 10)
            #expect(try Self.flagger(.flaggerTotal, harness, [("namespace", "shop")]) == 1)
            await harness.advance(by: .seconds(30))
            let successRate = try Self.flagger(.flaggerMetricAnalysis, harness, Self.labels + [("metric", "request-success-rate")])
            let duration = try Self.flagger(.flaggerMetricAnalysis, harness, Self.labels + [("metric", "request-duration")])
            // request-duration as Flagger records it, in seconds: the p99 of 20ms is 0.02.
            #expect(successRate == 100 && duration == 0.02)
            let timer = try harness.ownMetrics.expectTimer(ControllerMetricFamily.flaggerDuration.rawValue, Self.labels)
            #expect(timer.values.count == 1)
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.advance(by: .seconds(30))
            let failingRate = try Self.flagger(.flaggerMetricAnalysis, harness, Self.labels + [("metric", "request-success-rate")])
            #expect(failingRate == 60)
            let phase = await harness.controller.status(of: Self.web)?.phase
            #expect(try Self.flagger(.flaggerStatus, harness) == 2, "rolled back: \(String(describing: phase))")
            #expect(try Self.flagger(.flaggerWeight, harness, [("workload", "web"), ("namespace", "shop")]) == 0)
            await harness.advance(by: .seconds(30))
            #expect(await harness.controller.status(of: Self.web)?.phase == .failed)
            #expect(try Self.releases(.flaggerFailures, harness) == 1)
            #expect(try Self.releases(.flaggerSuccesses, harness) == 0)
            // Deleted, its series go; the namespace's total stays, at 0.
            await harness.reconcile([])
            #expect(harness.ownMetrics.recorders(label: ControllerMetricFamily.flaggerStatus.rawValue).isEmpty)
            #expect(try Self.flagger(.flaggerTotal, harness, [("namespace", "shop")]) == 0)
        }
    }

    @Test("a promotion is one of Flagger's successes and status 1; a release restored already promoted is not counted again")
    func flaggerCountsAPromotionOnce() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore(log: CallLog())
        try await ControllerHarness.run(store: store, clock: clock) { harness in
            await harness.reconcile([try RolloutFixture.spec(Self.web, weights: [10], threshold: 1)])
            for _ in 0..<4 where await harness.controller.status(of: Self.web)?.phase != .succeeded {
                await harness.advance(by: .seconds(30))
            }
            #expect(await harness.controller.status(of: Self.web)?.phase == .succeeded)
            #expect(try Self.flagger(.flaggerStatus, harness) == 1)
            #expect(try Self.releases(.flaggerSuccesses, harness) == 1)
            // Promoted, as Flagger says it: the version that serves is the primary, at 100; the canary at 0.
            #expect(try Self.flagger(.flaggerWeight, harness, [("workload", "web-primary"), ("namespace", "shop")]) == 100)
            #expect(try Self.flagger(.flaggerWeight, harness, [("workload", "web"), ("namespace", "shop")]) == 0)
        }
        try await ControllerHarness.run(store: store, clock: clock) { harness in
            let status = try Self.flagger(.flaggerStatus, harness)
            let successes = try Self.releases(.flaggerSuccesses, harness)
            #expect(status == 1 && successes == 0)
        }
    }
}
