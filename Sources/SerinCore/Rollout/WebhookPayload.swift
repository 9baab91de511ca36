/// The JSON body Serin posts to a webhook, shaped like Flagger's (`CanaryWebhookPayload`) so existing hook servers
/// understand it: `name`, `namespace`, `phase` (Flagger's name for it), `checksum` and `metadata`; an `event` hook's
/// metadata carries `eventMessage`, `eventType` and `timestamp`, as Flagger's event payload. Serin adds the weights,
/// the hook's type and an event's text.
public struct WebhookPayload: Hashable, Sendable, Codable {
    /// The Canary's name and namespace.
    public var name: String
    public var namespace: String
    /// Flagger's phase (`Progressing`, `Waiting`, `WaitingPromotion`...); a post-rollout hook hears `Succeeded` or
    /// `Failed`, the outcome it runs after, as Flagger calls it.
    public var phase: String
    /// Names the canary version under release (its destination and revision), as Flagger's checksum names the
    /// target's spec: a receiver tells releases apart by it.
    public var checksum: String
    public var canaryWeight: Int
    public var stableWeight: Int
    public var type: WebhookType
    /// The webhook's own `metadata` from the spec; for an `event` hook, with the event's fields over it.
    public var metadata: [String: String]
    /// The event text, for `event` webhooks.
    public var message: String?

    public init(
        name: String, namespace: String, phase: String, checksum: String = "", canaryWeight: Int, stableWeight: Int,
        type: WebhookType, metadata: [String: String] = [:], message: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.phase = phase
        self.checksum = checksum
        self.canaryWeight = canaryWeight
        self.stableWeight = stableWeight
        self.type = type
        self.metadata = metadata
        self.message = message
    }
}
