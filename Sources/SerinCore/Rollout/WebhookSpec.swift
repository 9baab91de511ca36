/// One entry of a Canary's `webhooks` list: a URL Serin calls at a given moment of the rollout.
public struct WebhookSpec: Hashable, Sendable, Codable {
    public var name: String
    public var type: WebhookType
    public var url: String
    /// How long the runner waits before counting the call as failed.
    public var timeout: Duration
    /// Sent as the payload's `metadata` (Flagger: e.g. `cmd: "hey -z 1m ..."` for the load tester).
    public var metadata: [String: String]

    public init(name: String, type: WebhookType, url: String, timeout: Duration = .seconds(10), metadata: [String: String] = [:]) {
        self.name = name
        self.type = type
        self.url = url
        self.timeout = timeout
        self.metadata = metadata
    }
}
