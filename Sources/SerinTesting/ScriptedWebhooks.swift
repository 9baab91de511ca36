import NIOConcurrencyHelpers
import SerinCore

/// A `WebhookRunner` whose hooks answer as a test says, by hook name — yes unless told otherwise — and which
/// keeps every call, payload and all.
public final class ScriptedWebhooks: WebhookRunner {
    private struct State {
        var answers: [String: WebhookResult] = [:]
        var calls: [WebhookCall] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Calls of the hook named `name` get `result` from now on.
    public func answer(_ name: String, with result: WebhookResult) {
        state.withLockedValue { $0.answers[name] = result }
    }

    /// Every call so far, oldest first.
    public var calls: [WebhookCall] { state.withLockedValue { $0.calls } }

    /// The calls of the hook named `name`, oldest first.
    public func calls(of name: String) -> [WebhookCall] {
        calls.filter { $0.webhook.name == name }
    }

    public func call(_ call: WebhookCall) async -> WebhookResult {
        state.withLockedValue { state in
            state.calls.append(call)
            return state.answers[call.webhook.name] ?? .passed
        }
    }
}
