import SerinCore

/// Rollouts part-way through, for the stores' tests: the same story whatever holds the state.
public enum RolloutFixture {
    /// The seed's web service (v1 stable, v2 canary) as a Canary named `name`, not started.
    public static func rollout(_ name: ResourceName, weights: [Int] = [10, 50, 80], threshold: Int = 3) throws -> Rollout {
        try Rollout(
            spec: CanarySpec(
                name: name, targetRef: ResourceName(namespace: name.namespace, name: "\(name.name)-virtualservice"),
                stable: Destination(host: "\(name.name)-v1-service"), canary: Destination(host: "\(name.name)-v2-service"),
                analysis: AnalysisSpec(
                    interval: .seconds(30), threshold: threshold, schedule: try WeightSchedule(stepWeights: weights),
                    metrics: MetricCheck.builtInDefaults, webhooks: [], progressDeadline: .seconds(600)
                ),
                skipAnalysis: false
            )
        )
    }

    /// A rollout at 50% with one failed check behind it and an analysis in flight, plus the events it recorded;
    /// `start` is when it began.
    public static func midRollout(_ name: ResourceName, start: RolloutInstant) throws -> (rollout: Rollout, events: [RolloutEvent]) {
        var rollout = try rollout(name)
        var events: [RolloutEvent] = []
        func run(_ outcome: RolloutOutcome) {
            events += outcome.actions.compactMap { if case .record(let event) = $0 { event } else { nil } }
        }
        func at(_ seconds: Int64) -> RolloutInstant { RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(seconds)) }
        run(rollout.start(now: at(0)))
        run(rollout.tick(now: at(30)))
        run(rollout.analysisCompleted(verdict: .fail(reason: "request-success-rate 97.00 < 99"), now: at(31)))
        run(rollout.tick(now: at(61)))
        run(rollout.analysisCompleted(verdict: .pass, now: at(62)))
        run(rollout.tick(now: at(92)))
        return (rollout, events)
    }
}
