import SerinController
import SerinCore
import SerinTesting
import Testing

extension CanaryControllerTests {
    @Test("a controller restored from the store puts the weights back and continues from its step, not from the start")
    func restoredContinues() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore()
        let spec = try Self.spec()
        var checked: [RecordedMeasurement] = []
        try await ControllerHarness.run(store: store, clock: clock) { first in
            await first.reconcile([spec])
            await first.advance(by: .seconds(30))
            #expect(first.weights() == [0, 10, 50])
            checked = try await first.status().lastMeasurements
        }
        #expect(!checked.isEmpty)
        // The new process's router serves the VirtualService as its file writes it: all on v1.
        try await ControllerHarness.run(store: store, clock: clock) { second in
            let restored = try await second.status()
            #expect(restored.canaryWeight == 50, "restored before any reconcile")
            #expect(restored.lastMeasurements == checked, "the last check's verdicts are read back")
            await second.reconcile([spec])
            #expect(second.lines.messages.contains(
                "shop/web: resumed from stored state: Progressing at step 2/3, weights 50/50 (stable \(Self.v1), canary \(Self.v2))"),
                    "\(second.lines.messages)")
            #expect(second.weights() == [50], "the weights are put back, with no 100/0 first")
            #expect(second.router.routes(of: Self.virtualService) == [Self.route((Self.v1, 50), (Self.v2, 50))])
            await second.advance(by: .seconds(30))
            #expect(second.metrics.requests.map(\.canaryWeight) == [50])
            #expect(second.weights() == [50, 80])
            let events = try await second.events()
            #expect(events.filter { $0.contains("rollout started") }.count == 1, "\(events)")
        }
    }

    @Test("a restart with another schedule for a canary the stored rollout released already says there is nothing to release, and the step shown is none of the new schedule's")
    func finishedReleaseSaidAtRestart() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore()
        try await ControllerHarness.run(store: store, clock: clock) { first in
            await first.reconcile([try Self.spec(weights: [50])])
            await first.advance(by: .seconds(30))
            await first.advance(by: .seconds(30))
            #expect(try await first.status().phase == .succeeded)
        }
        // Another example's Canary of the same name, on the same state file: three steps, the same canary.
        try await ControllerHarness.run(store: store, clock: clock) { second in
            await second.reconcile([try Self.spec(weights: [10, 50, 80])])
            #expect(second.lines.messages.contains {
                $0.hasPrefix("shop/web: canary \(Self.v2) was released already (Succeeded), as the state file says: nothing to release")
            }, "\(second.lines.messages)")
            let status = try await second.status()
            #expect(status.phase == .succeeded && status.stepProgress == "-/3", "\(status.stepProgress)")
        }
    }

    @Test("a restart whose first routing table withheld the stored weights says it resumed from stored state, then the halt: in the order it happened")
    func withheldAtRestartSaidAfterResuming() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore()
        let spec = try Self.spec()
        try await ControllerHarness.run(store: store, clock: clock) { first in
            await first.reconcile([spec])
            await first.advance(by: .seconds(30))
            #expect(first.weights() == [0, 10, 50])
        }
        let stored = try #require(store.rollout(Self.web)).split
        try await ControllerHarness.run(store: store, clock: clock) { second in
            // Embedded mode's first table cannot serve the stored 50/50, and the router refuses it again when put back.
            second.router.failWeights(with: PortFailure("canary has no endpoints"))
            await second.controller.weightsWithheld(stored, reason: "canary has no endpoints", of: Self.web)
            await second.reconcile([spec])
            let said = second.lines.messages.filter { $0.contains("resumed from stored state") || $0.contains("cannot set weights") }
            #expect(said.first?.hasPrefix("shop/web: resumed from stored state: Progressing at step 2/3, weights 50/50") == true, "\(said)")
            #expect(said.dropFirst().first == "shop/web: halt: cannot set weights 50/50: canary has no endpoints (1/3 failed checks)", "\(said)")
            // Put back and refused again: the one failed check it was.
            let status = try await second.status()
            #expect(status.failedChecks == 1)
        }
    }

    @Test("a controller restored with files whose Canary is refused goes on with the stored rollout as with any restore: weights put back, the first check a whole interval later")
    func restoredUnderARefusedSpec() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore()
        let spec = try Self.spec(writesStable: true)
        try await ControllerHarness.run(store: store, clock: clock) { first in
            await first.reconcile([spec])
            await first.advance(by: .seconds(30))
            #expect(first.weights() == [0, 10, 50])
        }
        var stale = spec
        stale.stable = Self.v3
        try await ControllerHarness.run(store: store, clock: clock) { second in
            let problems = await second.reconcile([stale])
            #expect(problems.count == 1, "\(problems)")
            #expect(second.weights() == [50], "the weights are put back, with no 100/0 first")
            await second.advance(by: .seconds(29))
            #expect(second.metrics.requests.isEmpty, "checked on less than an interval of traffic: \(second.metrics.requests)")
            await second.advance(by: .seconds(1))
            #expect(second.metrics.requests.map(\.canaryWeight) == [50])
        }
    }

    @Test("a controller stopped at a closed gate asks it again once restored, and goes on when it opens")
    func restoredAtClosedGate() async throws {
        let clock = ManualClock(now: RolloutInstant(sinceEpoch: .seconds(1_000)))
        let store = MemoryRolloutStore()
        let spec = try Self.spec(webhooks: [WebhookSpec(name: "release-window", type: .confirmRollout, url: "http://hooks.shop/window")])
        let closed = ScriptedWebhooks()
        closed.answer("release-window", with: .failed(reason: "outside the release window"))
        try await ControllerHarness.run(store: store, clock: clock, webhooks: closed) { first in
            await first.reconcile([spec])
            #expect(first.weights() == [0])
            let held = try await first.status()
            #expect(held.message?.contains("outside the release window") == true, "\(held.message ?? "")")
        }
        try await ControllerHarness.run(store: store, clock: clock) { second in
            await second.reconcile([spec])
            #expect(second.weights() == [0])
            await second.advance(by: .seconds(30))
            #expect(second.webhooks.calls(of: "release-window").count == 1)
            #expect(second.weights() == [0, 10])
            let events = try await second.events()
            #expect(events.filter { $0.contains("rollout started") }.count == 1, "\(events)")
        }
    }

    @Test("after a promotion, a new canary is released against the promoted version, and the retired one leaves the routes")
    func nextReleaseFromWhatServes() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            for _ in 1...3 { await harness.advance(by: .seconds(30)) }
            var next = try Self.spec()
            next.canary = Self.v3
            #expect(await harness.reconcile([next]) == [])
            let split = try #require(harness.router.splits(of: Self.web).last)
            #expect(split.stable == WeightedDestination(destination: Self.v2, weight: 90))
            #expect(split.canary == WeightedDestination(destination: Self.v3, weight: 10))
            #expect(harness.router.routes(of: Self.virtualService) == [Self.route((Self.v2, 90), (Self.v3, 10))])
            await harness.advance(by: .seconds(30))
            #expect(harness.metrics.requests.last?.stable == Self.v2)
            #expect(try await harness.status().releases.map(\.outcome) == ["Promoted", "Progressing"])
        }
    }

    @Test("a Canary on a Deployment, which adapters without Kubernetes cannot run, is refused alike by reconcile (listed in status) and by an apply's admission")
    func deploymentRefusedWithoutWorkloads() async throws {
        try await ControllerHarness.run { harness in
            let spec = try RolloutFixture.workloadSpec(revision: "1")
            let why = try #require(NoWorkloads().refusal(ofCanaryOn: "podinfo"))
            #expect(await harness.controller.admission(of: [spec], routes: [:]).refused == [spec.name: why])
            #expect(await harness.reconcile([spec]).map(\.message) == ["\(spec.name.name): \(why)"])
            #expect(await harness.controller.status(of: spec.name)?.message == CanaryStatus.refusalMessage(why))
        }
    }

    @Test("a new spec whose stable no longer serves is refused with what to write, and nothing moves")
    func staleStableRefused() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec(writesStable: true)])
            for _ in 1...3 { await harness.advance(by: .seconds(30)) }
            // The spec that ran the release, applied again (its written stable is the version it retired): it changes
            // nothing, so it is no conflict, and reloading the same files is not refused.
            #expect(await harness.reconcile([try Self.spec(writesStable: true)]) == [])
            #expect(await harness.controller.admission(of: [try Self.spec(writesStable: true)], routes: [:]).refused.isEmpty)
            var stale = try Self.spec(writesStable: true)
            stale.canary = Self.v3
            let problems = await harness.reconcile([stale])
            #expect(problems.map(\.message) == [
                "web: spec.stable is web-v1-service, but web-v2-service serves now; remove spec.stable (Serin releases from what "
                    + "serves) or write stable: {host: web-v2-service}; nothing was changed"
            ])
            #expect(harness.weights() == [0, 10, 50, 80, 100])
            let status = try await harness.status()
            #expect(status.phase == .succeeded)
            #expect(status.canary == "web-v2-service")
            // The status says the Canary as written is refused, over what the last accepted spec did.
            #expect(status.message?.hasPrefix("refused: spec.stable is web-v1-service, but web-v2-service serves now") == true, "\(status)")
            // `rollout` of the promoted canary is refused the same way: it already serves everything.
            #expect(await harness.execute(.restart) == .rejected(
                "web: spec.canary web-v2-service is the version that serves now; to release a new version, set spec.canary to it; nothing was changed"))
        }
    }

    @Test("a Canary refused while another release of it is in flight is tried again once that release has settled: its refusal is not left to say what no longer serves")
    func refusalRecheckedOnceSettled() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            await harness.advance(by: .seconds(30))
            // Files behind the release in flight (v1 → v2) name v1, which serves now: refused, and the release goes on.
            var behind = try Self.spec()
            behind.canary = Self.v1
            let problems = await harness.reconcile([behind])
            #expect(problems.map(\.message) == [
                "web: spec.canary web-v1-service is the version that serves now; to release a new version, set spec.canary to it; nothing was changed"
            ])
            #expect(try await harness.status().message?.hasPrefix("refused: ") == true)
            for _ in 1...3 { await harness.advance(by: .seconds(30)) }
            // v2 promoted and serving: the Canary as written is a release of v1 against v2 now, started as an apply would.
            let status = try await harness.status()
            #expect(status.canary == "web-v1-service" && status.stable == "web-v2-service" && status.phase == .progressing, "\(status)")
            #expect(status.message?.hasPrefix("refused: ") != true, "\(status.message ?? "")")
            #expect(status.releases.map(\.outcome) == ["Promoted", "Progressing"])
        }
    }

    @Test("a closed confirm-promotion gate holds the last step, asked every interval, until it opens")
    func promotionGateHolds() async throws {
        let gate = WebhookSpec(name: "approve", type: .confirmPromotion, url: "http://hooks.shop/approve")
        try await ControllerHarness.run { harness in
            harness.webhooks.answer("approve", with: .failed(reason: "approve answered 403: not yet"))
            await harness.reconcile([try Self.spec(weights: [20, 50], webhooks: [gate])])
            for _ in 1...4 { await harness.advance(by: .seconds(30)) }
            #expect(harness.weights() == [0, 20, 50])
            let held = try await harness.status()
            #expect(held.phase == .progressing)
            #expect(held.message?.contains("confirm-promotion") == true, "\(held.message ?? "")")
            let asked = harness.webhooks.calls(of: "approve")
            #expect(asked.count == 3, "asked after the last step's analysis, then once an interval")
            #expect(asked.allSatisfy { $0.payload.type == .confirmPromotion && $0.payload.name == "web" && $0.payload.canaryWeight == 50 })
            harness.webhooks.answer("approve", with: .passed)
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 20, 50, 100])
            #expect(try await harness.status().phase == .succeeded)
        }
    }
}
