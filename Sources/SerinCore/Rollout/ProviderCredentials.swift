/// What a MetricTemplate's `provider.secretRef` Secret holds: how to sign in to the provider, and where it
/// is when the Secret says so. Kubernetes mode reads the Secret; the Prometheus client sends what it held.
public struct ProviderCredentials: Hashable, Sendable, CustomStringConvertible {
    /// The `Authorization` a request carries.
    public enum Authorization: Hashable, Sendable {
        /// `token`: `Authorization: Bearer TOKEN`.
        case bearer(token: String)
        /// `username` and `password`: HTTP basic authentication.
        case basic(username: String, password: String)
    }

    public var authorization: Authorization?
    /// The Secret's `address`, which replaces the template's `provider.address` (as in Flagger).
    public var address: String?

    public init(authorization: Authorization? = nil, address: String? = nil) {
        self.authorization = authorization
        self.address = address
    }

    /// No credentials: the template names no Secret.
    public static let none = ProviderCredentials()

    /// Says which kind of credentials, never their values: descriptions end up in logs.
    public var description: String {
        switch authorization {
        case .bearer: "bearer token"
        case .basic(let username, _): "basic auth as \(username)"
        case nil: "no credentials"
        }
    }

    /// Why a template's credentials could not be had: the Secret or key is missing, or Secrets are not read here.
    public struct Unavailable: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String

        public init(_ message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    /// Where no Secret can be read (embedded mode): a template with no secretRef has no credentials, one with a
    /// secretRef is refused saying so, instead of querying without the credentials it asked for.
    public static func withoutSecrets(_ template: MetricTemplateSpec) -> Result<ProviderCredentials, Unavailable> {
        guard let secret = template.secretRef else { return .success(.none) }
        return .failure(Unavailable(
            "provider.secretRef names Secret \(secret), but only serin controller reads Secrets (from its cluster); "
                + "serin up and serin gateway do not, so this template's queries are not sent"
        ))
    }
}
