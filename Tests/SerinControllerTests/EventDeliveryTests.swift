import NIOConcurrencyHelpers
import SerinController
import SerinCore
import SerinTesting
import Testing

/// `event` webhooks as a receiver sees them: in the order the rollout recorded the events, retried while the
/// receiver fails, and never holding the rollout up.
@Suite("Event webhook delivery")
struct EventDeliveryTests {
    /// A receiver that is slow to take "rollout started" and refuses the first "advance … to 50%"; it keeps the
    /// messages it took, in the order it took them, and every attempt.
    final class Receiver: WebhookRunner {
        private let state = NIOLockedValueBox((taken: [String](), attempts: [String]()))

        var taken: [String] { state.withLockedValue { $0.taken } }
        var attempts: [String] { state.withLockedValue { $0.attempts } }

        func call(_ call: WebhookCall) async -> WebhookResult {
            guard call.webhook.type == .event, let message = call.payload.message else { return .passed }
            let first = state.withLockedValue { state in
                state.attempts.append(message)
                return state.attempts.count { $0 == message } == 1
            }
            if message.contains("rollout started") { try? await Task.sleep(for: .milliseconds(300)) }
            if message.contains("advance canary weight to 50%") && first { return .failed(reason: "503 from the receiver") }
            state.withLockedValue { $0.taken.append(message) }
            return .passed
        }
    }

    /// A rollout of two steps whose `event` webhook, `notify`, is told each of its events.
    static func notifying() throws -> CanarySpec {
        try RolloutFixture.spec(
            ControllerHarness.web, weights: [10, 50], webhooks: [WebhookSpec(name: "notify", type: .event, url: "http://127.0.0.1:9/")]
        )
    }

    /// A receiver that takes `delay` to answer each event, or never answers (nil): a call then waits until its
    /// task is cancelled.
    final class SlowReceiver: WebhookRunner {
        let delay: Duration?
        private let called = NIOLockedValueBox((calls: 0, taken: 0))
        var calls: Int { called.withLockedValue { $0.calls } }
        var taken: Int { called.withLockedValue { $0.taken } }

        init(answeringAfter delay: Duration?) { self.delay = delay }

        func call(_ call: WebhookCall) async -> WebhookResult {
            guard call.webhook.type == .event else { return .passed }
            called.withLockedValue { $0.calls += 1 }
            let started = ContinuousClock.now
            while !Task.isCancelled {
                if let delay, ContinuousClock.now - started >= delay {
                    called.withLockedValue { $0.taken += 1 }
                    return .passed
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return .failed(reason: "no answer before the call was cancelled")
        }
    }

    @Test("a receiver that answers within the grace gets every event, even those sent as the controller stops", .timeLimit(.minutes(1)))
    func slowReceiverGetsEverythingWithinTheGrace() async throws {
        let receiver = SlowReceiver(answeringAfter: .milliseconds(100))
        var events: [String] = []
        try await ControllerHarness.run(webhooks: ScriptedWebhooks(), eventWebhooks: receiver, noticeGrace: .seconds(20)) { harness in
            await harness.reconcile([try Self.notifying()])
            await harness.advance(by: .seconds(30))
            events = try await harness.events()
        }
        #expect(events.count > 1)
        #expect(receiver.taken == events.count, "\(receiver.taken) of \(events.count) taken")
    }

    @Test(
        "a receiver that never answers does not hold up a stopping controller: after the grace its events are given up, each with a warning",
        .timeLimit(.minutes(1))
    )
    func silentReceiverDoesNotHoldUpStop() async throws {
        let receiver = SlowReceiver(answeringAfter: nil)
        var lines: LogRecorder?
        var events: [String] = []
        // Without the grace, the controller's stop would wait on the receiver for ever, past the time limit.
        try await ControllerHarness.run(webhooks: ScriptedWebhooks(), eventWebhooks: receiver, noticeGrace: .milliseconds(300)) { harness in
            lines = harness.lines
            await harness.reconcile([try Self.notifying()])
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 10, 50], "the rollout does not wait for its notifications")
            #expect(await eventually(.seconds(10)) { receiver.calls == 1 })
            events = try await harness.events()
        }
        // The event being sent when the controller stopped, and each one queued behind it, tried once and named.
        let messages = try #require(lines).messages
        let warnings = messages.filter { $0.contains("not delivered: the controller stopped after 1 of 3 attempts") }
        #expect(events.count > 1)
        #expect(warnings.count == events.count, "\(messages)")
        #expect(receiver.calls == events.count)
    }

    @Test("a slow first delivery does not let later events overtake it; a refused one is retried in its place; the rollout goes on meanwhile")
    func inOrderWithRetries() async throws {
        let receiver = Receiver()
        try await ControllerHarness.run(webhooks: ScriptedWebhooks(), eventWebhooks: receiver) { harness in
            await harness.reconcile([try Self.notifying()])
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 10, 50], "the rollout does not wait for its notifications")
            await harness.advance(by: .seconds(30))
            let expected = try await harness.events()
            let delivered = await eventually(.seconds(10)) { receiver.taken.count == expected.count }
            #expect(delivered, "\(receiver.taken) of \(expected)")
            #expect(receiver.taken == expected, "delivered out of order")
            #expect(receiver.attempts.count { $0.contains("advance canary weight to 50%") } == 2)
        }
    }

    /// Notices to two receivers, by name: `silent` never answers (a call waits until it is cancelled); every other
    /// one takes each message at once, and they are kept in the order taken.
    final class SilentAndPrompt: WebhookRunner, AlertSender {
        private let state = NIOLockedValueBox((taken: [String](), silentCalls: 0))
        var taken: [String] { state.withLockedValue { $0.taken } }
        var silentCalls: Int { state.withLockedValue { $0.silentCalls } }

        func call(_ call: WebhookCall) async -> WebhookResult {
            guard call.webhook.type == .event else { return .passed }
            return await take(call.payload.message ?? "", silent: call.webhook.name == "silent")
        }

        func send(_ alert: AlertCall) async -> WebhookResult {
            await take(alert.message, silent: alert.alert.provider.name == "silent")
        }

        private func take(_ message: String, silent: Bool) async -> WebhookResult {
            guard silent else {
                state.withLockedValue { $0.taken.append(message) }
                return .passed
            }
            state.withLockedValue { $0.silentCalls += 1 }
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            return .failed(reason: "no answer before the call was cancelled")
        }
    }

    @Test("an event webhook that never answers holds up neither the rollout nor another event webhook: each receiver has its own queue", .timeLimit(.minutes(1)))
    func silentWebhookDoesNotHoldUpAnother() async throws {
        let receivers = SilentAndPrompt()
        let spec = try RolloutFixture.spec(ControllerHarness.web, weights: [10, 50], webhooks: [
            WebhookSpec(name: "silent", type: .event, url: "http://127.0.0.1:9/"),
            WebhookSpec(name: "notify", type: .event, url: "http://127.0.0.1:9/"),
        ])
        try await ControllerHarness.run(webhooks: ScriptedWebhooks(), eventWebhooks: receivers, noticeGrace: .milliseconds(300)) { harness in
            await harness.reconcile([spec])
            await harness.advance(by: .seconds(30))
            #expect(harness.weights() == [0, 10, 50])
            let expected = try await harness.events()
            #expect(await eventually(.seconds(10)) { receivers.taken == expected }, "\(receivers.taken) of \(expected)")
            // Its queue's first call may start after the other receiver has taken everything: wait for it.
            #expect(await eventually(.seconds(10)) { receivers.silentCalls >= 1 })
            #expect(receivers.silentCalls == 1, "the silent receiver's later events wait behind its first")
        }
    }

    @Test("an alert provider that never answers does not hold up the alerts to another provider", .timeLimit(.minutes(1)))
    func silentAlertProviderDoesNotHoldUpAnother() async throws {
        let receivers = SilentAndPrompt()
        var spec = try RolloutFixture.spec(ControllerHarness.web, weights: [10, 50])
        spec.analysis.alerts = [
            AlertSpec(name: "pager", severity: .info, provider: ResourceName(name: "silent")),
            AlertSpec(name: "team", severity: .info, provider: ResourceName(name: "chat")),
        ]
        try await ControllerHarness.run(alerts: receivers, noticeGrace: .milliseconds(300)) { harness in
            await harness.reconcile([spec])
            // Through promotion: the release's start and its completion are alerted, as Flagger alerts.
            await harness.advance(by: .seconds(30))
            await harness.advance(by: .seconds(30))
            await harness.advance(by: .seconds(30))
            let events = try await harness.events()
            let expected = events.filter { $0.hasPrefix("web: rollout started") || $0.hasPrefix("web: promotion completed") }
            #expect(expected.count == 2, "\(events)")
            #expect(await eventually(.seconds(10)) { receivers.taken == expected }, "\(receivers.taken) of \(expected)")
            #expect(await eventually(.seconds(10)) { receivers.silentCalls >= 1 })
            #expect(receivers.silentCalls == 1, "the silent provider's later alerts wait behind its first")
        }
    }
}
