/// Calls one webhook and says what it answered.
public protocol WebhookRunner: Sendable {
    func call(_ call: WebhookCall) async -> WebhookResult
}
