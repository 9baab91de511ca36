import MetricsTestKit
import SerinController
import SerinCore
import SerinTesting
import Testing

/// A `CanaryController` on a manual clock and scripted ports. Time passes only when a test advances it, and each
/// step returns once the controller has carried out all it led to, so a test reads the ports straight after.
struct ControllerHarness {
    static let web = ResourceName(namespace: "shop", name: "web")
    static let v1 = RolloutFixture.destination(of: web, "v1")
    static let v2 = RolloutFixture.destination(of: web, "v2")
    static let v3 = RolloutFixture.destination(of: web, "v3")

    /// `NAME-virtualservice` sending everything to `NAME-v1-service`, as the seed's file writes it.
    static func seedRoutes(of canaries: [ResourceName] = [web]) -> [ResourceName: [[WeightedDestination]]] {
        Dictionary(uniqueKeysWithValues: canaries.map { name in
            (RolloutFixture.virtualService(of: name), [[WeightedDestination(destination: RolloutFixture.destination(of: name, "v1"), weight: 100)]])
        })
    }

    let clock: ManualClock
    let router: RecordingRouter
    let metrics: ScriptedMetrics
    let webhooks: ScriptedWebhooks
    let store: MemoryRolloutStore
    /// Store and router calls, in the order they came.
    let calls: CallLog
    /// The controller's log lines.
    let lines: LogRecorder
    /// The controller's own metrics (`serin_canary_weight`...), as it records them.
    let ownMetrics: TestMetrics
    let controller: CanaryController

    /// Runs `body` against a controller restored from `store`, started and stopped around it. A restart is a
    /// second call with the first one's store and clock.
    static func run(
        store: MemoryRolloutStore? = nil, clock: ManualClock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000))),
        routes: [ResourceName: [[WeightedDestination]]] = seedRoutes(), webhooks: ScriptedWebhooks = ScriptedWebhooks(),
        judge: any Judge = CanaryJudge(), eventWebhooks: (any WebhookRunner)? = nil, alerts: any AlertSender = NoAlerts(),
        noticeGrace: Duration = .seconds(5), deployments: any WorkloadManager = NoWorkloads(),
        _ body: (ControllerHarness) async throws -> Void
    ) async throws {
        let calls = CallLog()
        let store = store ?? MemoryRolloutStore(log: calls)
        let router = RecordingRouter(serving: routes, log: calls)
        let metrics = ScriptedMetrics()
        let lines = LogRecorder()
        let ownMetrics = TestMetrics()
        let controller = CanaryController(
            // `eventWebhooks`, when given, takes every call instead of the scripted hooks.
            adapters: .init(router: router, metrics: metrics, webhooks: eventWebhooks ?? webhooks, store: store, clock: clock, judge: judge,
                deployments: deployments, alerts: alerts),
            tickInterval: .seconds(1), metricsFactory: ownMetrics, noticeGrace: noticeGrace, logger: lines.logger()
        )
        try await controller.restore()
        let running = Task { await controller.run() }
        // The ticker sleeps on the clock before time moves, so the first advance wakes it. (A controller stopped
        // before this one took its ticker with it.)
        await clock.sleepers(1)
        let harness = ControllerHarness(
            clock: clock, router: router, metrics: metrics, webhooks: webhooks, store: store, calls: calls, lines: lines,
            ownMetrics: ownMetrics, controller: controller)
        do {
            try await body(harness)
        } catch {
            running.cancel()
            await running.value
            throw error
        }
        running.cancel()
        await running.value
    }

    /// Hands the specs to the controller and returns its problems once everything they started is carried out.
    @discardableResult
    func reconcile(_ specs: [CanarySpec]) async -> [CanaryProblem] {
        let problems = await controller.reconcile(specs)
        await controller.settled()
        return problems
    }

    /// Lets `duration` pass and returns once everything it made due is carried out.
    func advance(by duration: Duration) async {
        await clock.advance(by: duration)
        await controller.settled()
    }

    /// A person's command on `canary`, answered, with its effects carried out.
    func execute(_ command: RolloutCommand, on canary: ResourceName = web) async -> CommandReply {
        let reply = await controller.execute(command, canary: canary)
        await controller.settled()
        return reply
    }

    func status(_ canary: ResourceName = web) async throws -> CanaryStatus {
        try #require(await controller.status(of: canary), "no rollout for \(canary)")
    }

    /// The canary weights the router was given for `canary`, in order.
    func weights(_ canary: ResourceName = web) -> [Int] { router.canaryWeights(of: canary) }

    func events(_ canary: ResourceName = web) async throws -> [String] {
        try await controller.events(of: canary).map(\.message)
    }
}

/// An adapter's failure, as the log shows it.
struct PortFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
