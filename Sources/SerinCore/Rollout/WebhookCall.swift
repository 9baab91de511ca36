/// One HTTP call the runner makes: which webhook, with which payload.
public struct WebhookCall: Hashable, Sendable {
    public var webhook: WebhookSpec
    public var payload: WebhookPayload

    public init(webhook: WebhookSpec, payload: WebhookPayload) {
        self.webhook = webhook
        self.payload = payload
    }
}
