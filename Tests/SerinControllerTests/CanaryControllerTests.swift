import Foundation
import Logging
import MetricsTestKit
import SerinController
import SerinCore
import SerinTesting
import Testing

/// The reconcile loop on a manual clock: what reaches the router, the store and the hooks, and when. No sockets,
/// no sleeps — time passes only when a test advances it.
@Suite("Canary controller", .timeLimit(.minutes(1)))
struct CanaryControllerTests {
    static let web = ControllerHarness.web
    static let (v1, v2, v3) = (ControllerHarness.v1, ControllerHarness.v2, ControllerHarness.v3)
    static let virtualService = RolloutFixture.virtualService(of: web)

    static func spec(weights: [Int] = [10, 50, 80], threshold: Int = 3, webhooks: [WebhookSpec] = [], writesStable: Bool = false) throws -> CanarySpec {
        try RolloutFixture.spec(web, weights: weights, threshold: threshold, webhooks: webhooks, writesStable: writesStable)
    }

    static func route(_ weights: (Destination, Int)...) -> [WeightedDestination] {
        weights.map { WeightedDestination(destination: $0.0, weight: $0.1) }
    }

    @Test("a new Canary starts from what its routes serve: the router gets 100/0, then the first step")
    func startsFromWhatServes() async throws {
        try await ControllerHarness.run { harness in
            #expect(await harness.reconcile([try Self.spec()]) == [])
            #expect(harness.router.splits(of: Self.web).map(\.stable.destination) == [Self.v1, Self.v1])
            #expect(harness.weights() == [0, 10])
            #expect(harness.router.routes(of: Self.virtualService) == [Self.route((Self.v1, 90), (Self.v2, 10))])
            let status = try await harness.status()
            #expect(status.phase == .progressing)
            #expect(status.step == 1)
            #expect(status.stable == "web-v1-service")
            #expect(try await harness.events() == [
                "web: rollout started: canary web-v2-service, stable web-v1-service", "web: advance canary weight to 10%",
            ])
            #expect(harness.metrics.requests.isEmpty, "no analysis before an interval has passed")
        }
    }

    @Test("a Canary whose written stable has no route is refused with the reason, and nothing moves; its status says why until it is fixed")
    func refusedWhenStableHasNoRoute() async throws {
        let routes = [Self.virtualService: [Self.route((Destination(host: "web-v0-service"), 100))]]
        let why = "spec.stable is web-v1-service, but web-v0-service serves now; remove spec.stable (Serin releases from what serves) "
            + "or write stable: {host: web-v0-service}; nothing was changed"
        try await ControllerHarness.run(routes: routes) { harness in
            let problems = await harness.reconcile([try Self.spec(writesStable: true)])
            #expect(problems == [CanaryProblem(canary: Self.web, message: "web: \(why)")])
            #expect(harness.weights().isEmpty)
            #expect(harness.store.saves == 0)
            // Listed, not "no Canaries": as written, with the refusal for its message.
            let refused = try #require(await harness.controller.statuses().first)
            #expect(refused.name == "web" && refused.phase == .initialized && refused.canaryWeight == 0)
            #expect(refused.message == "refused: \(why)")
            #expect(await harness.controller.resolve("web") == Self.web)
            #expect(await harness.execute(.promote) == .rejected("web was refused, so nothing runs it: \(why)"))
            #expect(harness.weights().isEmpty)
            // Written without the stable, it releases from what serves: the refusal is gone.
            #expect(await harness.reconcile([try Self.spec()]).isEmpty)
            let started = try await harness.status()
            #expect(started.phase == .progressing && started.message?.hasPrefix("refused") != true, "\(started)")
            // Removed, it is gone from the list.
            #expect(await harness.reconcile([]).isEmpty)
            #expect(await harness.controller.statuses().isEmpty)
        }
    }

    @Test("the analysis runs once the interval has passed, at the step's weight; a pass moves to the next weight")
    func passAdvances() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            await harness.advance(by: .seconds(29))
            #expect(harness.metrics.requests.isEmpty, "29s into a 30s interval nothing is analysed")
            #expect(harness.weights() == [0, 10])
            await harness.advance(by: .seconds(1))
            #expect(harness.metrics.requests.map(\.canaryWeight) == [10])
            #expect(harness.metrics.requests.map(\.stable) == [Self.v1])
            #expect(harness.weights() == [0, 10, 50])
            let status = try await harness.status()
            #expect(status.step == 2)
            #expect(status.lastMeasurements.map(\.metric) == ["request-duration", "request-success-rate"])
            #expect(status.lastMeasurements.allSatisfy { $0.verdict == .pass && $0.canaryWeight == 10 }, "\(status.lastMeasurements)")
        }
    }

    @Test("after the last step passes the canary is promoted: routes 0/100, Succeeded, and it takes the stable role (status 100/0 beside it)")
    func promotes() async throws {
        try await ControllerHarness.run { harness in
            let updates = await harness.controller.updates()
            await harness.reconcile([try Self.spec()])
            for _ in 1...3 { await harness.advance(by: .seconds(30)) }
            #expect(harness.weights() == [0, 10, 50, 80, 100])
            #expect(harness.router.routes(of: Self.virtualService) == [Self.route((Self.v1, 0), (Self.v2, 100))])
            let status = try await harness.status()
            #expect(status.phase == .succeeded)
            #expect(status.stable == "web-v2-service", "the promoted canary serves as the stable")
            #expect(status.promoted == true && status.stableWeight == 100 && status.canaryWeight == 0, "all traffic on the new stable: \(status)")
            #expect(status.releases.map(\.outcome) == ["Promoted"])
            #expect(try await harness.events().suffix(2) == [
                "web: all steps passed, promoting canary web-v2-service to 100%", "web: promotion completed: all traffic on canary web-v2-service",
            ])
            // What a follower of /events sees of the promotion: in the order it happened, each phase once.
            var seen: [String] = []
            for await sequenced in updates {
                switch sequenced.update {
                case .event(_, let event): seen.append(event.message)
                case .phase(_, let phase): seen.append("phase \(phase.rawValue)")
                case .weights(_, let stable, let canary, _, _): seen.append("weights \(stable)/\(canary)")
                case .measured: continue
                }
                if seen.last?.hasPrefix("web: promotion completed") == true { break }
            }
            #expect(Array(seen.suffix(5)) == [
                "phase Promoting", "weights 0/100", "web: all steps passed, promoting canary web-v2-service to 100%",
                "phase Succeeded", "web: promotion completed: all traffic on canary web-v2-service",
            ], "\(seen)")
            // Nothing more was said of it: Succeeded came once (the step's end is not a second phase change).
            let later = await withTaskGroup(of: [ControllerUpdate].self) { group in
                group.addTask { var rest: [ControllerUpdate] = []; for await sequenced in updates { rest.append(sequenced.update) }; return rest }
                group.addTask { try? await Task.sleep(for: .milliseconds(300)); return [] }
                _ = await group.next()
                group.cancelAll()
                return await group.reduce([], +)
            }
            #expect(later.isEmpty, "\(later)")
            await harness.advance(by: .seconds(300))
            #expect(harness.metrics.requests.count == 3, "a finished rollout is not analysed again")
        }
    }

    /// A judge of the test's own: passes request-duration, calls request-success-rate inconclusive with a comparison.
    struct OwnJudge: Judge {
        static let comparison = Comparison(
            quantity: .errorRate, canaryRate: 0.01, stableRate: 0.009, difference: -0.02...0.03, tolerance: 0.005, confidence: 99,
            canaryRequests: 100, stableRequests: 900, decision: .undecided)

        func judge(_ samples: AnalysisSamples, for request: AnalysisRequest) -> Judgement {
            Judgement(combining: [
                CheckJudgement(metric: "request-duration", verdict: .pass),
                CheckJudgement(metric: "request-success-rate", verdict: .inconclusive(reason: "own judge: wait"), comparison: Self.comparison),
            ])
        }
    }

    @Test("the injected judge's own per-check verdicts and comparisons are what history records, not the threshold judge's")
    func injectedJudgeVerdictsAreRecorded() async throws {
        try await ControllerHarness.run(judge: OwnJudge()) { harness in
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.reconcile([try Self.spec(threshold: 1)])
            await harness.advance(by: .seconds(30))
            #expect(try await harness.status().phase == .progressing, "the threshold judge would have rolled this back")
            let measured = try await harness.controller.measurements(of: Self.web)
            let byMetric = Dictionary(uniqueKeysWithValues: measured.map { ($0.metric, $0) })
            #expect(byMetric["request-duration"]?.verdict == .pass)
            #expect(byMetric["request-success-rate"]?.verdict == .inconclusive(reason: "own judge: wait"))
            #expect(byMetric["request-success-rate"]?.comparison == OwnJudge.comparison)
            #expect(byMetric["request-success-rate"]?.window == .seconds(60))
        }
    }

    @Test("failed checks up to the threshold roll back to 100/0, saying which check failed")
    func rollsBackAtThreshold() async throws {
        try await ControllerHarness.run { harness in
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.reconcile([try Self.spec(threshold: 2)])
            await harness.advance(by: .seconds(30))
            let halted = try await harness.status()
            #expect(halted.phase == .progressing)
            #expect(halted.failedChecks == 1)
            #expect(harness.weights() == [0, 10], "a first failed check holds the weight")
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 10, 0])
            let failed = try await harness.status()
            #expect(failed.phase == .failed)
            #expect(failed.stable == "web-v1-service")
            let rollback = try #require(try await harness.events().first { $0.contains("rolled back") })
            #expect(rollback.contains("request-success-rate 60.00"), "\(rollback)")
            #expect(rollback.hasSuffix("(2/2 failed checks)"), "\(rollback)")
            let measured = try await harness.controller.measurements(of: Self.web)
            #expect(measured.filter { $0.metric == "request-success-rate" }.map { $0.verdict.outcome == .fail } == [true, true])
        }
    }

    @Test("each rollout event is logged with its Canary (NAMESPACE/NAME outside default), phase and canary weight: a step at info, a rollback at warning")
    func eventsCarryTheCanary() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            _ = await harness.execute(.abort)
            let step = try #require(harness.lines.entries.first { $0.message == "shop/web: advance canary weight to 10%" }, "\(harness.lines.entries)")
            #expect(step.level == .info)
            #expect(step.metadata["canary"] == "shop/web")
            #expect(step.metadata["phase"] == "Progressing")
            #expect(step.metadata["canaryWeight"] == "10")
            let rollback = try #require(harness.lines.entries.first { $0.message.contains("rolled back") }, "\(harness.lines.entries)")
            #expect(rollback.level == .warning)
            #expect(rollback.metadata["canary"] == "shop/web")
            #expect(rollback.metadata["phase"] == "Failed")
            #expect(rollback.metadata["canaryWeight"] == "0")
        }
    }

    @Test("each decision is saved before the router moves the weights")
    func savesBeforeMoving() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            await harness.advance(by: .seconds(30))
            #expect(harness.calls.entries == [
                "save web: Progressing at 10%", "setWeights web: 100/0", "setWeights web: 90/10",
                // The analysis request, then its verdict.
                "save web: Progressing at 10%",
                "save web: Progressing at 50%", "setWeights web: 50/50",
            ])
        }
    }

    @Test("a save the store refuses is logged as an error of that Canary, counted in serin_state_save_failures_total, and the weights still move; the next save stores the state")
    func refusedSave() async throws {
        try await ControllerHarness.run { harness in
            let failures = { try harness.ownMetrics.expectCounter(ControllerMetricFamily.stateSaveFailures.rawValue, []).totalValue }
            #expect(try failures() == 0)
            harness.store.failNextSave(with: PortFailure("disk full"))
            await harness.reconcile([try Self.spec()])
            #expect(try failures() == 1)
            let failed = harness.lines.entries.first { $0.message == "shop/web: cannot save rollout state: disk full" }
            #expect(failed?.level == .error, "\(harness.lines.entries)")
            #expect(failed?.metadata["canary"] == "shop/web")
            #expect(harness.store.rollout(Self.web) == nil)
            #expect(harness.weights() == [0, 10])
            await harness.advance(by: .seconds(30))
            #expect(harness.store.rollout(Self.web)?.status.canaryWeight == 50)
            #expect(try failures() == 1)
        }
    }

    @Test("a weight change the router refuses is a warning with the weights and, for the step's own, a failed check: the next pass sets them again, the one after advances")
    func refusedWeights() async throws {
        try await ControllerHarness.run { harness in
            harness.router.failWeights(with: PortFailure("the API server said no"))
            await harness.reconcile([try Self.spec()])
            let refusals = harness.lines.entries.filter { $0.message.contains("cannot set weights") }
            #expect(refusals.map(\.message) == [
                "shop/web: cannot set weights 100/0: the API server said no",
                "shop/web: halt: cannot set weights 90/10: the API server said no (1/3 failed checks)",
            ])
            #expect(refusals.allSatisfy { $0.level == .warning && $0.metadata["canary"] == "shop/web" }, "\(refusals)")
            #expect(harness.weights().isEmpty)
            #expect(try await harness.status().failedChecks == 1)
            harness.router.failWeights(with: nil)
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [10], "the step's weights again, not the next step's")
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [10, 50])
            #expect(try await harness.store.events(for: Self.web, limit: nil).contains { $0.message.hasPrefix("web: halt: cannot set weights 90/10") })
        }
    }

    @Test("a spec removed from reconcile forgets the rollout, saying so in the log: the store deletes it and the weights stay")
    func removedSpecIsForgotten() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            #expect(await harness.reconcile([]) == [])
            let said = harness.lines.entries.first { $0.message.hasPrefix("shop/web: its Canary is no longer given") }
            #expect(said?.message == "shop/web: its Canary is no longer given: the rollout (Progressing at 90/10) is forgotten, and Serin no longer sets the weights of VirtualService shop/web-virtualservice", "\(harness.lines.entries)")
            #expect(said?.level == .warning)
            #expect(harness.store.deleted == [Self.web])
            #expect(harness.store.rollout(Self.web) == nil)
            #expect(harness.calls.entries.last == "delete web")
            #expect(await harness.controller.status(of: Self.web) == nil)
            #expect(try await harness.store.events(for: Self.web, limit: nil).isEmpty)
            await harness.advance(by: .seconds(30))
            #expect(harness.metrics.requests.isEmpty)
            #expect(harness.weights() == [0, 10])
        }
    }

    @Test("the log says a step's weights moved once the router applied them: 'advance canary weight to 10%' waits for the router, whose saved event it is already")
    func advanceLoggedOnceApplied() async throws {
        try await ControllerHarness.run { harness in
            let gate = AsyncGate()
            harness.router.hold(Self.web, at: gate)
            _ = await harness.controller.reconcile([try Self.spec()])
            // Saved before the weights move (a crash resumes from it), but not yet said in the log.
            #expect(await eventually(.seconds(10)) {
                (try? await harness.store.events(for: Self.web, limit: nil))?.contains { $0.message == "web: advance canary weight to 10%" } == true
            })
            #expect(!harness.lines.messages.contains { $0.contains("advance canary weight") }, "\(harness.lines.messages)")
            gate.open()
            await harness.controller.settled()
            #expect(harness.weights() == [0, 10])
            #expect(harness.lines.messages.contains("shop/web: advance canary weight to 10%"), "\(harness.lines.messages)")
        }
    }

    @Test("weights the router refuses are not said as done: the log names the refusal instead of 'advance canary weight', and neither log nor history says a refused rollback put all traffic on stable")
    func refusedWeightsNotLoggedAsDone() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            harness.router.failWeights(with: PortFailure("the API server said no"))
            await harness.advance(by: .seconds(30))
            #expect(!harness.lines.messages.contains("shop/web: advance canary weight to 50%"), "\(harness.lines.messages)")
            let advance = harness.lines.entries.first { $0.message.hasPrefix("shop/web: the router refused weights 50/50") }
            #expect(advance?.message == "shop/web: the router refused weights 50/50: the API server said no; the routes keep the weights before them, "
                + "so this is not in effect: advance canary weight to 50%", "\(harness.lines.messages)")
            #expect(advance?.level == .warning)
            _ = await harness.execute(.abort)
            #expect(try await harness.status().phase == .failed)
            // The decision is said, with its reason; that all traffic is on stable is not, since the router refused it:
            // the last word, logged and stored, says so instead.
            #expect(harness.lines.messages.contains("shop/web: rolled back: abort requested"), "\(harness.lines.messages)")
            let failed = "rollout failed: abort requested; the router refused weights 100/0, so not all traffic is on stable web-v1-service yet"
            let lastWord = harness.lines.entries.first { $0.message.hasPrefix("shop/web: rollout failed") }
            #expect(lastWord?.message == "shop/web: \(failed)", "\(harness.lines.messages)")
            #expect(lastWord?.level == .warning)
            let stored = try await harness.store.events(for: Self.web, limit: nil).map(\.message)
            #expect(stored.suffix(2) == ["web: cannot set weights 100/0: the API server said no", "web: \(failed)"], "\(stored)")
            #expect(!(stored + harness.lines.messages).contains { $0.contains("all traffic on stable") }, "\(stored)")
            #expect(harness.weights() == [0, 10], "the routes never left 90/10")
        }
    }

    @Test("in Flagger's shape the target is not scaled to zero while the router refuses the rollback's weights, which would leave its traffic with no pods; it is once they apply")
    func scaleDownWaitsForRefusedWeights() async throws {
        let podinfo = ResourceName(namespace: "shop", name: "podinfo")
        let primary = WeightedDestination(destination: Destination(host: "podinfo-primary", port: 9898), weight: 100)
        let deployments = RecordingWorkloads()
        try await ControllerHarness.run(routes: [podinfo: [[primary]]], deployments: deployments) { harness in
            await harness.reconcile([try RolloutFixture.workloadSpec(revision: "r1")])
            #expect(deployments.scalings == [.zero], "initialized: the primary serves, the target is scaled to zero")
            await harness.reconcile([try RolloutFixture.workloadSpec(revision: "r2")])
            #expect(try await harness.status(podinfo).phase == .progressing)
            #expect(deployments.scalings == [.zero, .likePrimary])
            harness.router.failWeights(with: PortFailure("the API server said no"))
            _ = await harness.execute(.abort, on: podinfo)
            #expect(try await harness.status(podinfo).phase == .failed)
            #expect(deployments.scalings == [.zero, .likePrimary], "the canary's pods still take its share of the traffic")
            #expect(harness.lines.messages.contains {
                $0.hasPrefix("shop/podinfo: not scaling Deployment podinfo to zero while the router refuses weights 100/0")
            }, "\(harness.lines.messages)")
            harness.router.failWeights(with: nil)
            await harness.controller.retryRefusedWeights()
            await harness.controller.settled()
            #expect(harness.weights(podinfo).last == 0)
            #expect(deployments.scalings == [.zero, .likePrimary, .zero])
        }
    }

    @Test("a rollback with no post-rollout hooks is stored as putting all traffic on stable once the router applied its weights")
    func appliedRollbackStoredAsServing() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            _ = await harness.execute(.abort)
            #expect(harness.weights() == [0, 10, 0])
            let stored = try await harness.store.events(for: Self.web, limit: nil).map(\.message)
            #expect(stored.suffix(2) == ["web: rolled back: abort requested", "web: rollout failed: abort requested; all traffic on stable web-v1-service"],
                    "\(stored)")
            #expect(try await harness.status().message == "web: rollout failed: abort requested; all traffic on stable web-v1-service")
        }
    }

    @Test("a promotion whose weights the router refuses is not stored as completed: the history says so, and says the promotion completed once they are applied")
    func refusedPromotionNotStoredAsCompleted() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            for _ in 1...2 { await harness.advance(by: .seconds(30)) }
            harness.router.failWeights(with: PortFailure("the API server said no"))
            await harness.advance(by: .seconds(30))
            #expect(try await harness.status().phase == .succeeded)
            #expect(harness.weights() == [0, 10, 50, 80], "the routes never left 20/80")
            let notCompleted = "promotion not completed: the router refused weights 0/100, so not all traffic is on canary web-v2-service yet"
            var stored = try await harness.store.events(for: Self.web, limit: nil).map(\.message)
            #expect(stored.suffix(3) == [
                "web: all steps passed, promoting canary web-v2-service to 100%", "web: cannot set weights 0/100: the API server said no",
                "web: \(notCompleted)",
            ], "\(stored)")
            #expect(!(stored + harness.lines.messages).contains { $0.contains("promotion completed") }, "\(stored)")
            #expect(harness.lines.entries.first { $0.message == "shop/web: \(notCompleted)" }?.level == .warning, "\(harness.lines.messages)")
            // The router takes them when sent again: the promotion's last word is said then, in history and log.
            harness.router.failWeights(with: nil)
            await harness.controller.retryRefusedWeights()
            await harness.controller.settled()
            #expect(harness.weights() == [0, 10, 50, 80, 100])
            stored = try await harness.store.events(for: Self.web, limit: nil).map(\.message)
            #expect(stored.last == "web: promotion completed: all traffic on canary web-v2-service", "\(stored)")
            #expect(stored.count { $0.contains("promotion completed") } == 1)
            #expect(try await harness.status().message == "web: promotion completed: all traffic on canary web-v2-service")
            #expect(harness.lines.messages.contains("shop/web: promotion completed: all traffic on canary web-v2-service"), "\(harness.lines.messages)")
        }
    }

    @Test("a controller stopped while the router is setting the promotion's weights stores the promotion's last word once they are applied, before it stops")
    func lastWordStoredWhileStopping() async throws {
        let store = MemoryRolloutStore()
        let (router, saves) = (AsyncGate(), AsyncGate())
        try await ControllerHarness.run(store: store) { harness in
            await harness.reconcile([try Self.spec()])
            for _ in 1...2 { await harness.advance(by: .seconds(30)) }
            harness.router.hold(Self.web, at: router)
            await harness.clock.advance(by: .seconds(30))
            #expect(await eventually(.seconds(10)) { (try? await harness.status().phase) == .succeeded })
            store.holdSaves(at: saves)
            // Once the controller is stopping, the router answers, and later the store takes the last word's save: the
            // controller stops only after it.
            Task {
                try await Task.sleep(for: .milliseconds(300))
                router.open()
                try await Task.sleep(for: .milliseconds(300))
                saves.open()
            }
        }
        let stored = try await store.events(for: Self.web, limit: nil).map(\.message)
        #expect(stored.last == "web: promotion completed: all traffic on canary web-v2-service", "\(stored)")
        #expect(store.rollout(Self.web)?.awaitsAppliedWeights == false)
    }

    @Test("a check that fails while refused weights are sent again is logged at once, not held as 'not in effect' with the weights")
    func verdictAfterRefusedWeightsLoggedAtOnce() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            harness.router.failWeights(with: PortFailure("the API server said no"))
            await harness.advance(by: .seconds(30))
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.advance(by: .seconds(30))
            let verdicts = harness.lines.messages.filter { $0.hasPrefix("shop/web: ") && $0.contains("request-success-rate") }
            #expect(!verdicts.isEmpty, "\(harness.lines.messages)")
            #expect(!harness.lines.messages.contains { $0.contains("not in effect") && $0.contains("request-success-rate") },
                    "a verdict is no weight: \(harness.lines.messages)")
        }
    }

    @Test("a MetricTemplate's measurement carries no request count, where a built-in's carries its requests: status and the API leave it out rather than say 0 requests, which reads as no traffic")
    func customMetricHasNoRequestCount() async throws {
        try await ControllerHarness.run { harness in
            var spec = try Self.spec()
            spec.analysis.metrics.append(MetricCheck(name: "error-budget", kind: .custom(template: "error-budget"), thresholdRange: ThresholdRange(max: 1)))
            harness.metrics.answer { request in
                var samples = ScriptedMetrics.healthy(request)
                samples[metric: "error-budget"] = .value(0.25, window: .seconds(60))
                return samples
            }
            await harness.reconcile([spec])
            await harness.advance(by: .seconds(30))
            let measurements = try await harness.status().lastMeasurements
            let custom = try #require(measurements.first { $0.metric == "error-budget" }, "\(measurements)")
            #expect(custom.canaryValue == 0.25 && custom.verdict == .pass)
            #expect(custom.canaryRequests == nil && custom.stableRequests == nil, "\(custom)")
            let builtIn = try #require(measurements.first { $0.metric == "request-success-rate" })
            #expect(builtIn.canaryRequests == 100 && builtIn.stableRequests == 400)
            // As GET /canaries/NAME and the history's JSON carry them: the counts left out, not 0.
            let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(custom)) as? [String: Any])
            #expect(json["canaryRequests"] == nil && json["stableRequests"] == nil && json["canaryValue"] as? Double == 0.25, "\(json)")
            #expect(try await harness.store.measurements(for: Self.web, limit: nil).contains { $0.metric == "error-budget" && $0.canaryRequests == nil })
        }
    }

    @Test("one Canary whose weight changes hang does not hold up another: each has its own lane")
    func laneIsolation() async throws {
        let api = ResourceName(namespace: "shop", name: "api")
        try await ControllerHarness.run(routes: ControllerHarness.seedRoutes(of: [Self.web, api])) { harness in
            let gate = AsyncGate()
            harness.router.hold(api, at: gate)
            var fast = try Self.spec()
            fast.skipAnalysis = true
            var slow = try RolloutFixture.spec(api)
            slow.skipAnalysis = true
            _ = await harness.controller.reconcile([slow, fast])
            // Events are read once the Canary's own effects are carried out: web's, while api's still hang.
            _ = try await harness.events(Self.web)
            #expect(harness.weights(Self.web) == [0, 100])
            #expect(harness.weights(api).isEmpty)
            gate.open()
            await harness.controller.settled()
            #expect(harness.weights(api) == [0, 100])
        }
    }
}

/// Deployments that scale as asked and whose primary is ready at once; remembers the sizes asked for, in order.
final class RecordingWorkloads: WorkloadManager, @unchecked Sendable {
    private let lock = NSLock()
    private var asked: [WorkloadScaling.Size] = []

    var scalings: [WorkloadScaling.Size] { lock.withLock { asked } }

    func scale(_ scaling: WorkloadScaling) async throws { lock.withLock { asked.append(scaling.size) } }

    func promote(_ promotion: WorkloadPromotion) async -> WorkloadState { WorkloadState(ready: true, reason: "ready") }
}
