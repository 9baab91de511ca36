import AsyncHTTPClient
import NIOSSL

/// The process's HTTP client for webhooks and alerts. A connection that cannot be made fails the call at once, with
/// the reason ("Connection refused"), as Flagger's calls do: the controller asks a gate again at the next interval and
/// retries an event or an alert itself, with backoff, so AsyncHTTPClient's default of reconnecting until the deadline
/// would only make each attempt last its whole timeout and hide why it failed.
public enum WebhookClient {
    public static let shared = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration())

    /// The client for hooks with Flagger's `disableTLS`: it verifies no server certificate. Made when first used.
    public static let unverified = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(verifyingCertificates: false))

    /// The configuration `shared` has, for a client of its own (one going through a provider's `proxy`);
    /// `verifyingCertificates` false: `unverified`'s.
    public static func configuration(verifyingCertificates: Bool = true) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        if !verifyingCertificates {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            configuration.tlsConfiguration = tls
        }
        return configuration
    }
}
