import SerinController
import SerinCore
import SerinTesting
import Testing

extension CanaryControllerTests {
    @Test("promote and abort act at once: the routes end at 0/100 or 100/0, and the status reads 100/0 beside the stable that serves (v2 promoted, or v1)", arguments: [
        (RolloutCommand.promote, 100, RolloutPhase.succeeded, "v2"), (.abort, 0, .failed, "v1"),
    ])
    func promoteOrAbort(command: RolloutCommand, canaryWeight: Int, phase: RolloutPhase, stable: String) async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            guard case .accepted(let status) = await harness.execute(command) else {
                Issue.record("\(command) was not accepted")
                return
            }
            #expect(status.weightsLabel == "100/0" && status.stable == "web-\(stable)-service", "\(status)")
            #expect(harness.weights() == [0, 10, canaryWeight])
            #expect(try await harness.status().phase == phase)
            #expect(harness.metrics.requests.isEmpty)
        }
    }

    @Test("pause holds the rollout while time passes; resume analyses after a full interval from then")
    func pauseAndResume() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            await harness.advance(by: .seconds(20))
            guard case .accepted(let paused) = await harness.execute(.pause) else {
                Issue.record("pause was not accepted")
                return
            }
            #expect(paused.phase == .paused)
            await harness.advance(by: .seconds(600))
            #expect(harness.metrics.requests.isEmpty, "nothing is analysed while paused")
            #expect(try await harness.status().phase == .paused, "a progress deadline's worth of paused time fails nothing")
            guard case .accepted = await harness.execute(.resume) else {
                Issue.record("resume was not accepted")
                return
            }
            await harness.advance(by: .seconds(29))
            #expect(harness.metrics.requests.isEmpty)
            await harness.advance(by: .seconds(1))
            #expect(harness.weights() == [0, 10, 50])
        }
    }

    @Test("a command the phase does not allow is refused with the reason; an unknown Canary names those there are")
    func refusedCommands() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec()])
            #expect(await harness.execute(.resume) == .rejected("web: cannot resume while Progressing: not paused"))
            #expect(await harness.execute(.start) == .rejected("web: cannot start while Progressing: already started; use `rollout` to start again"))
            #expect(await harness.execute(.abort, on: ResourceName(namespace: "shop", name: "nope")) == .notFound("no Canary named nope (known: web)"))
            #expect(harness.weights() == [0, 10], "a refused command moves nothing")
        }
    }

    @Test("after `rollout` starts a release again, its status shows no verdicts until the new release's first check")
    func rolloutAgainClearsTheLastVerdicts() async throws {
        try await ControllerHarness.run { harness in
            await harness.reconcile([try Self.spec(weights: [10, 50], threshold: 1)])
            harness.metrics.answer(ScriptedMetrics.failing)
            await harness.advance(by: .seconds(30))
            #expect(try await harness.status().phase == .failed)
            #expect(try await harness.status().lastMeasurements.contains { $0.verdict.outcome == .fail })
            harness.metrics.answer(ScriptedMetrics.healthy)
            guard case .accepted(let restarted) = await harness.execute(.restart) else {
                Issue.record("rollout was not accepted")
                return
            }
            #expect(restarted.lastMeasurements.isEmpty, "\(restarted.lastMeasurements)")
            await harness.advance(by: .seconds(30))
            let checked = try await harness.status().lastMeasurements
            #expect(!checked.isEmpty && checked.allSatisfy { $0.verdict == .pass }, "\(checked)")
        }
    }
}
