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

    @Test("a suspended Canary (spec.suspend) simulates the release it would run once unsuspended, not a hold that never ends")
    func suspendedCanarySimulatesItsRelease() throws {
        var spec = try Self.flaggerDefaults()
        spec.suspend = true
        let simulation = RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 100, canaryErrorRate: 0.001), timeLimit: .seconds(3_600))
        let summary = try simulation.run(trials: 5, seed: 1)
        #expect(summary.promoted == 5, "\(summary)")
    }

    @Test("a Deployment target (Flagger's shape) simulates the release of its next revision: healthy promoted, failing rolled back")
    func workloadCanaryReleasesTheNextRevision() throws {
        var spec = try Self.flaggerDefaults()
        spec.targetRef = ResourceName(namespace: "shop", name: "podinfo")
        spec.stable = Destination(host: "podinfo-primary", port: 9898)
        spec.canary = Destination(host: "podinfo-canary", port: 9898)
        spec.workload = CanaryWorkload(deployment: "podinfo", port: 9898)
        let healthy = try RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 100, canaryErrorRate: 0.001)).run(trials: 10, seed: 1)
        #expect(healthy.promoted == 10, "\(healthy)")
        let failing = try RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 100, canaryErrorRate: 0.05)).run(trials: 10, seed: 1)
        #expect(failing.rolledBack == 10, "\(failing)")
    }

    @Test("a progress deadline that ends a rollout whose checks were failing is a rollback of a worse canary, not one left undecided")
    func deadlineAfterFailedChecksIsDecided() throws {
        var spec = try Self.flaggerDefaults()
        // Two minutes without progress: the deadline comes before the fifth failed check would.
        spec.analysis.progressDeadline = .seconds(120)
        let summary = try RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 100, canaryErrorRate: 0.05)).run(trials: 10, seed: 1)
        #expect(summary.rolledBack == 10, "\(summary)")
        #expect(summary.rolledBackUndecided == 0, "\(summary)")
        // With no traffic the same deadline finds it undecided.
        let quiet = try RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 0.01, canaryErrorRate: 0.05)).run(trials: 5, seed: 1)
        #expect(quiet.rolledBackUndecided == quiet.rolledBack && quiet.rolledBack == 5, "\(quiet)")
    }

    @Test("paced steps: a 10m pause holds its step to ten minutes, and a promote pause is promoted as soon as it waits")
    func pacedStepsArePromoted() throws {
        var spec = try Self.flaggerDefaults()
        spec.analysis.schedule = try WeightSchedule(pacedSteps: [
            .init(weight: 10, pause: .duration(.seconds(600))), .init(weight: 30, pause: .promote), .init(weight: 50),
        ])
        let summary = try RolloutSimulation(spec: spec, traffic: Self.traffic(rps: 100, canaryErrorRate: 0.001)).run(trials: 10, seed: 1)
        #expect(summary.promoted == 10, "\(summary)")
        // Ten minutes at 10%, one passing minute at 30% (then promote), one at 50%.
        #expect(summary.secondsToDecision?.p50 == 720, "\(summary)")
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

    /// Healthy for `healthyFor`, then failing 20% of the canary's requests.
    static func turningBad(after healthyFor: Duration) -> SimulatedTraffic? {
        let healthy = Self.traffic(rps: 100, canaryErrorRate: 0.001)
        var failing = healthy.segments[0]
        failing.from = healthyFor
        failing.canary.errorRate = 0.2
        return SimulatedTraffic(segments: healthy.segments + [failing])
    }

    @Test("a canary that turns bad after two minutes is rolled back five failed checks after the change, not before")
    func trafficTurningBadIsRolledBackAfterTheChange() throws {
        let spec = try Self.flaggerDefaults()
        let turning = try #require(Self.turningBad(after: .seconds(120)))
        let summary = try RolloutSimulation(spec: spec, traffic: turning).run(trials: 50, seed: 1)
        #expect(summary.rolledBack == 50, "\(summary)")
        // The check at 60 s passes (healthy); those at 120, 180, 240, 300 and 360 s fail.
        #expect(summary.secondsToDecision?.p50 == 360 && summary.secondsToDecision?.p90 == 360, "\(summary)")
        // Turning bad only after the promotion at 300 s changes nothing.
        let late = try #require(Self.turningBad(after: .seconds(600)))
        #expect(try RolloutSimulation(spec: spec, traffic: late).run(trials: 50, seed: 1).promoted == 50)
    }

    @Test("the segment in force is the last one begun: the first before it begins, the last after the end")
    func segmentInForce() throws {
        let version = SimulatedTraffic.Version(errorRate: 0.001, medianMilliseconds: 20)
        let segment = { (from: Int, rps: Double) in
            SimulatedTraffic.Segment(from: .seconds(from), requestsPerSecond: rps, stable: version, canary: version)
        }
        #expect(SimulatedTraffic(segments: []) == nil)
        // Given out of order; of two at the same time, the later in the list.
        let traffic = try #require(SimulatedTraffic(segments: [segment(60, 2), segment(10, 1), segment(60, 3)]))
        #expect(traffic.segments.map(\.requestsPerSecond) == [1, 2, 3])
        #expect(traffic.segment(at: .zero).requestsPerSecond == 1)
        #expect(traffic.segment(at: .seconds(59)).requestsPerSecond == 1)
        #expect(traffic.segment(at: .seconds(60)).requestsPerSecond == 3)
        #expect(traffic.segment(at: .seconds(86_400)).requestsPerSecond == 3)
        // A window is drawn from the segment in force at its end: no requests before 10 s, many after.
        var generator = SplitMix64(seed: 1)
        let quiet = try #require(SimulatedTraffic(segments: [segment(0, 0), segment(10, 1_000)]))
        #expect(quiet.sample(.canary, percent: 50, window: .seconds(5), endingAt: .seconds(9), using: &generator).requests == 0)
        #expect(quiet.sample(.canary, percent: 50, window: .seconds(5), endingAt: .seconds(10), using: &generator).requests > 2_000)
    }

    @Test("a measured p99 turns into the median whose log-normal tail has it")
    func medianFromP99() {
        // e^(2.326·0.5) ≈ 3.2: a 64 ms p99 is a 20 ms median.
        #expect(abs(SimulatedTraffic.Version.median(p99Milliseconds: 64, logSpread: 0.5) - 20) < 0.05)
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
            let sample = traffic.sample(.canary, percent: 10, window: .seconds(10), endingAt: .seconds(10), using: &generator)
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
