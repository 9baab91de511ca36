import SerinController
import SerinCore
import SerinTesting
import Testing

extension CanaryControllerTests {
    /// 10% held at least 10m, then 50% held until `serin promote`, analysed every 30s.
    static func pacedSpec() throws -> CanarySpec {
        var spec = try Self.spec()
        spec.analysis.schedule = try WeightSchedule(pacedSteps: [
            .init(weight: 10, pause: .duration(.seconds(600))), .init(weight: 50, pause: .promote),
        ])
        return spec
    }

    @Test("a 10m pause holds the weight through 10 minutes of passing analyses, then advances; a promote pause waits for promote")
    func pacedSteps() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.pacedSpec()])
            for _ in 1...19 { await harness.advance(by: .seconds(30)) }
            #expect(harness.weights() == [0, 10], "held through 9m30s of passing analyses")
            #expect(harness.metrics.requests.count == 19)
            #expect(try await harness.status().message == "web: paused at 10% until 00:26:40 UTC (step 1/2 holds 10m)")
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 10, 50])
            // Twenty minutes at the promote pause, past the 10m progress deadline: every analysis passes, nothing moves.
            for _ in 1...40 { await harness.advance(by: .seconds(30)) }
            #expect(harness.weights() == [0, 10, 50])
            #expect(harness.metrics.requests.count == 60)
            let waiting = try await harness.status()
            #expect(waiting.phase == .progressing)
            #expect(waiting.message == "web: waiting for serin promote at 50%")
            guard case .accepted(let promoted) = await harness.execute(.promote) else {
                Issue.record("promote was not accepted")
                return
            }
            #expect(promoted.phase == .succeeded)
            #expect(harness.weights() == [0, 10, 50, 100])
            #expect(try await harness.events().contains("web: serin promote released the pause at canary weight 50%: the last step, promoting"))
        }
    }
}

extension CanaryControllerTests {
    @Test("stepWeightPromotion: the router gets each promotion step an interval apart, and the status says Promoting until 100%")
    func promotionSteps() async throws {
        try await ControllerHarness.run { harness in
            var spec = try Self.spec(weights: [10, 50])
            spec.analysis.stepWeightPromotion = 20
            await harness.reconcile([spec])
            while harness.weights().last != 70 { await harness.advance(by: .seconds(30)) }
            let promoting = try await harness.status()
            #expect(promoting.phase == .promoting && promoting.stage == "promotion-steps")
            let analyses = harness.metrics.requests.count
            await harness.advance(by: .seconds(30))
            #expect(harness.weights().suffix(2) == [70, 90])
            #expect(try await harness.status().phase == .promoting)
            await harness.advance(by: .seconds(30))
            #expect(harness.weights().suffix(3) == [70, 90, 100])
            #expect(try await harness.status().phase == .succeeded)
            #expect(harness.metrics.requests.count == analyses, "nothing is analysed while promoting")
        }
    }
}
