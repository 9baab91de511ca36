import SerinCore
import Testing

/// `serin simulate`'s engine: the real rollout and judge over seeded synthetic traffic on a simulated clock.
@Suite("Rollout simulation")
struct RolloutSimulationTests {
    /// Flagger's defaults: a check a minute, five failed checks to roll back, 10% steps to 50%.
    static func flaggerDefaults() throws -> CanarySpec {
        let name = ResourceName(namespace: "shop", name: "web")
        return CanarySpec(
            name: name, targetRef: ResourceName(namespace: "shop", name: "web-virtualservice"),
            stable: Destination(host: "web-v1-service"), canary: Destination(host: "web-v2-service"),
            analysis: AnalysisSpec(
                interval: .seconds(60), threshold: 5, schedule: try WeightSchedule(stepWeights: [10, 20, 30, 40, 50]),
                metrics: MetricCheck.builtInDefaults, progressDeadline: .seconds(3_600)))
    }

    static func traffic(rps: Double, canaryErrorRate: Double, canaryMedian: Double = 20) -> SimulatedTraffic {
        SimulatedTraffic(
            requestsPerSecond: rps,
            stable: .init(errorRate: 0.001, medianMilliseconds: 20),
            canary: .init(errorRate: canaryErrorRate, medianMilliseconds: canaryMedian))
    }

    @Test("a healthy canary at Flagger's defaults is promoted every time, after five checks and the promotion")
    func healthyCanaryIsPromoted() throws {
        let simulation = RolloutSimulation(spec: try Self.flaggerDefaults(), traffic: Self.traffic(rps: 100, canaryErrorRate: 0.001))
        let summary = try simulation.run(trials: 50, seed: 1)
        #expect(summary.promoted == 50, "\(summary)")
        // Five steps a minute apart; the last passed check promotes at once.
        #expect(summary.secondsToDecision?.p50 == 300, "\(summary)")
    }

    @Test("a canary failing 40% of requests is rolled back every time, after five failed checks")
    func failingCanaryIsRolledBack() throws {
        let simulation = RolloutSimulation(spec: try Self.flaggerDefaults(), traffic: Self.traffic(rps: 100, canaryErrorRate: 0.4))
        let summary = try simulation.run(trials: 50, seed: 1)
        #expect(summary.rolledBack == 50, "\(summary)")
        #expect(summary.secondsToDecision?.p50 == 300, "the threshold judge waits for five failed minutes: \(summary)")
    }

    @Test("a canary whose p99 is far past the limit is rolled back")
    func slowCanaryIsRolledBack() throws {
        // The default request-duration check allows a p99 of 500 ms; a 400 ms median puts p99 near 1.3 s.
        let simulation = RolloutSimulation(
            spec: try Self.flaggerDefaults(), traffic: Self.traffic(rps: 100, canaryErrorRate: 0.001, canaryMedian: 400))
        #expect(try simulation.run(trials: 20, seed: 3).rolledBack == 20)
    }

    @Test("the same seed gives the same releases")
    func seedsRepeat() throws {
        let simulation = RolloutSimulation(spec: try Self.flaggerDefaults(), traffic: Self.traffic(rps: 2, canaryErrorRate: 0.01))
        let first = try simulation.run(trials: 30, seed: 42)
        #expect(try simulation.run(trials: 30, seed: 42) == first)
    }

    @Test("drawn traffic has the rates asked for: requests, failures and the log-normal p99")
    func trafficHasTheGivenShape() {
        var generator = SplitMix64(seed: 9)
        let traffic = Self.traffic(rps: 1_000, canaryErrorRate: 0.05)
        var (requests, failures, p99Sum) = (0, 0, 0.0)
        for _ in 0..<200 {
            let sample = traffic.sample(traffic.canary, percent: 10, window: .seconds(10), using: &generator)
            requests += sample.requests
            failures += sample.failures
            p99Sum += sample.p99Milliseconds ?? 0
        }
        let (meanRequests, failureRate, p99) = (Double(requests) / 200, Double(failures) / Double(requests), p99Sum / 200)
        #expect(abs(meanRequests - 1_000) < 10, "mean requests \(meanRequests)")
        #expect(abs(failureRate - 0.05) < 0.002, "failure rate \(failureRate)")
        // A log-normal's p99 is the median times e^(2.326·σ): 20 ms · e^1.163 ≈ 64 ms.
        #expect(abs(p99 - 64) < 3, "p99 \(p99)")
    }
}
