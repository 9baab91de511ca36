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

    @Test("a slow first delivery does not let later events overtake it; a refused one is retried in its place; the rollout goes on meanwhile")
    func inOrderWithRetries() async throws {
        let receiver = Receiver()
        let notify = WebhookSpec(name: "notify", type: .event, url: "http://127.0.0.1:9/")
        try await ControllerHarness.run(webhooks: ScriptedWebhooks(), eventWebhooks: receiver) { harness in
            await harness.reconcile([try RolloutFixture.spec(ControllerHarness.web, weights: [10, 50], webhooks: [notify])])
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
}
