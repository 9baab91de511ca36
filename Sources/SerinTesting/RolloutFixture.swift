import SerinCore

/// The seed's story as Canaries and rollouts part-way through, for the stores' and the controller's tests: the
/// same story whatever holds the state or drives it.
public enum RolloutFixture {
    /// The seed's web service as a Canary named `name`: `NAME-v2-service` released into `NAME-virtualservice`
    /// against `NAME-v1-service` (written as the stable when `writesStable`), analysed every 30s.
    public static func spec(
        _ name: ResourceName, weights: [Int] = [10, 50, 80], threshold: Int = 3, webhooks: [WebhookSpec] = [],
        canary: String = "v2", writesStable: Bool = true
    ) throws -> CanarySpec {
        CanarySpec(
            name: name, targetRef: virtualService(of: name),
            stable: writesStable ? destination(of: name, "v1") : nil, canary: destination(of: name, canary),
            analysis: AnalysisSpec(
                interval: .seconds(30), threshold: threshold, schedule: try WeightSchedule(stepWeights: weights),
                metrics: MetricCheck.builtInDefaults, webhooks: webhooks, progressDeadline: .seconds(600)
            ),
            skipAnalysis: false
        )
    }

    /// Flagger's podinfo: the Canary `shop/podinfo` targets the Deployment of that name at `revision`, released
    /// through `podinfo-canary` beside `podinfo-primary` in steps of 10% and 50%.
    public static func workloadSpec(revision: String) throws -> CanarySpec {
        CanarySpec(
            name: ResourceName(namespace: "shop", name: "podinfo"), targetRef: ResourceName(namespace: "shop", name: "podinfo"),
            stable: Destination(host: "podinfo-primary", port: 9898), canary: Destination(host: "podinfo-canary", port: 9898),
            analysis: AnalysisSpec(
                interval: .seconds(30), threshold: 2, schedule: try WeightSchedule(stepWeights: [10, 50]),
                metrics: MetricCheck.builtInDefaults, progressDeadline: .seconds(600)),
            canaryDeployment: "podinfo",
            workload: CanaryWorkload(deployment: "podinfo", revision: revision, port: 9898))
    }

    /// `NAME-virtualservice`, the VirtualService a fixture Canary drives.
    public static func virtualService(of name: ResourceName) -> ResourceName {
        ResourceName(namespace: name.namespace, name: "\(name.name)-virtualservice")
    }

    /// `NAME-VERSION-service`, one version of the fixture's service.
    public static func destination(of name: ResourceName, _ version: String) -> Destination {
        Destination(host: "\(name.name)-\(version)-service")
    }

    /// The seed's web service (v1 stable, v2 canary) as a Canary named `name`, not started.
    public static func rollout(_ name: ResourceName, weights: [Int] = [10, 50, 80], threshold: Int = 3) throws -> Rollout {
        try Rollout(spec: spec(name, weights: weights, threshold: threshold))
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

    /// `midRollout` promoted by a person 100 s after `start`, then ticked to `Succeeded`: v2 is the stable now.
    public static func promoted(_ name: ResourceName, start: RolloutInstant) throws -> Rollout {
        var rollout = try midRollout(name, start: start).rollout
        var now = RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(100))
        _ = rollout.promote(now: now)
        for _ in 0..<10 where rollout.status.phase != .succeeded {
            now = RolloutInstant(sinceEpoch: now.sinceEpoch + .seconds(30))
            _ = rollout.tick(now: now)
        }
        return rollout
    }
}
