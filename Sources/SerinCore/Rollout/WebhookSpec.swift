/// One entry of a Canary's `webhooks` list: a URL Serin calls at a given moment of the rollout.
public struct WebhookSpec: Hashable, Sendable, Codable {
    public var name: String
    public var type: WebhookType
    public var url: String
    /// How long the runner waits before counting the call as failed.
    public var timeout: Duration
    /// Sent as the payload's `metadata` (Flagger: e.g. `cmd: "hey -z 1m ..."` for the load tester).
    public var metadata: [String: String]
    /// Flagger's `retries`: how many more times one call is made, with backoff, when it fails in a way that may pass
    /// later (no answer, 429, a 5xx other than 501); 0: once.
    public var retries: Int
    /// Flagger's `disableTLS`: an `https://` hook's certificate is not verified.
    public var disableTLS: Bool
    /// Flagger's `muteAlert`: a confirm gate this hook keeps closed holds the rollout with its event recorded as
    /// always, but sends no alert for it.
    public var muteAlert: Bool

    public init(
        name: String, type: WebhookType, url: String, timeout: Duration = .seconds(10), metadata: [String: String] = [:],
        retries: Int = 0, disableTLS: Bool = false, muteAlert: Bool = false
    ) {
        self.name = name
        self.type = type
        self.url = url
        self.timeout = timeout
        self.metadata = metadata
        self.retries = retries
        self.disableTLS = disableTLS
        self.muteAlert = muteAlert
    }

    private enum CodingKeys: String, CodingKey {
        case name, type, url, timeout, metadata, retries, disableTLS, muteAlert
    }

    /// Reads state files written before `retries`, `disableTLS` and `muteAlert` existed as 0, false and false.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            type: try container.decode(WebhookType.self, forKey: .type),
            url: try container.decode(String.self, forKey: .url),
            timeout: try container.decode(Duration.self, forKey: .timeout),
            metadata: try container.decode([String: String].self, forKey: .metadata),
            retries: try container.decodeIfPresent(Int.self, forKey: .retries) ?? 0,
            disableTLS: try container.decodeIfPresent(Bool.self, forKey: .disableTLS) ?? false,
            muteAlert: try container.decodeIfPresent(Bool.self, forKey: .muteAlert) ?? false
        )
    }
}
