/// The JSON body Serin posts to a webhook, shaped like Flagger's so existing hook servers understand it.
public struct WebhookPayload: Hashable, Sendable, Codable {
    /// The Canary's name and namespace.
    public var name: String
    public var namespace: String
    public var phase: RolloutPhase
    public var canaryWeight: Int
    public var stableWeight: Int
    public var type: WebhookType
    /// The webhook's own `metadata` from the spec.
    public var metadata: [String: String]
    /// The event text, for `event` webhooks.
    public var message: String?

    public init(
        name: String, namespace: String, phase: RolloutPhase, canaryWeight: Int, stableWeight: Int,
        type: WebhookType, metadata: [String: String] = [:], message: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.phase = phase
        self.canaryWeight = canaryWeight
        self.stableWeight = stableWeight
        self.type = type
        self.metadata = metadata
        self.message = message
    }
}
