/// An `AlertProvider` resource (Flagger's, read unchanged, or `serin.dev`'s): a chat or webhook service alerts
/// are posted to. The address may be written here or kept in a Secret (`secretRef`), whose `address` wins.
public struct AlertProvider: Hashable, Sendable, Codable, CustomStringConvertible, CustomReflectable {
    /// What the receiver understands, which decides the payload's shape.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case slack, msteams, discord, gchat, rocket
        /// Serin's own: a plain JSON document with the event's fields (`AlertCall`).
        case webhook

        public var description: String { rawValue }
    }

    public var name: ResourceName
    public var type: Kind
    /// The channel Slack-shaped payloads name; Flagger's default is `general`.
    public var channel: String
    /// The bot name Slack-shaped payloads show.
    public var username: String
    /// The webhook URL, unless `secretRef` names a Secret holding it.
    public var address: String?
    /// An HTTP(S) proxy to post through.
    public var proxy: String?
    /// `secretRef.name`: a Secret in the provider's namespace whose `address` (and `token`, a bearer token for Slack's
    /// chat.postMessage) are used.
    public var secretRef: String?

    public static let defaultChannel = "general"
    public static let defaultUsername = "serin"

    public init(
        name: ResourceName, type: Kind, channel: String = AlertProvider.defaultChannel, username: String = AlertProvider.defaultUsername,
        address: String? = nil, proxy: String? = nil, secretRef: String? = nil
    ) {
        self.name = name
        self.type = type
        self.channel = channel
        self.username = username
        self.address = address
        self.proxy = proxy
        self.secretRef = secretRef
    }

    /// How logs name it without its address: `slack provider 'default/on-call'`.
    public var label: String { "\(type) provider '\(name)'" }

    /// The label: an address written in the provider is as secret as one in a Secret.
    public var description: String { label }

    /// `dump` and the debugger see neither the address nor the proxy.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "type": type, "channel": channel, "username": username, "secretRef": secretRef as Any],
               displayStyle: .struct)
    }
}

/// Where an alert is posted: the provider with its address (and token) taken from the Secret when it has one.
/// The address is a credential (a Slack webhook URL is one): it is never in a description, a log line or a reason.
public struct AlertEndpoint: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var provider: AlertProvider
    public var address: String
    /// Sent as `Authorization: Bearer` (Flagger's Secret key `token`).
    public var token: String?

    public init(provider: AlertProvider, address: String, token: String? = nil) {
        self.provider = provider
        self.address = address
        self.token = token
    }

    /// The provider with the Secret's `address` and `token` (as Flagger reads them) over its own address; a
    /// reason when neither gives an address.
    public static func resolve(
        _ provider: AlertProvider, secret: [String: String]?
    ) -> Result<AlertEndpoint, AlertEndpointUnavailable> {
        if let secretName = provider.secretRef {
            guard let secret else {
                return .failure(.init("\(provider.label): Secret \(provider.name.namespace)/\(secretName) does not exist"))
            }
            guard let address = secret["address"], !address.isEmpty else {
                return .failure(.init("\(provider.label): Secret \(provider.name.namespace)/\(secretName) has no key address"))
            }
            return .success(AlertEndpoint(provider: provider, address: address, token: secret["token"].flatMap { $0.isEmpty ? nil : $0 }))
        }
        guard let address = provider.address, !address.isEmpty else {
            return .failure(.init("\(provider.label) has neither address nor secretRef"))
        }
        return .success(AlertEndpoint(provider: provider, address: address))
    }

    public var description: String { provider.label }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["provider": provider.label], displayStyle: .struct) }
}

/// Why an alert provider cannot be posted to: missing, or its Secret or address missing. Says which, never a URL.
public struct AlertEndpointUnavailable: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
