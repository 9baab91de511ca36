/// Istio's `ClientTLSSettings` on a DestinationRule's traffic policy: TLS on the gateway's connections to a
/// cluster's endpoints. Certificate paths only; the gateway reads the files.
public struct ClientTLS: Hashable, Sendable, Codable {
    public var mode: Mode
    /// PEM CA certificates the endpoint's certificate must chain to; nil: the system's roots.
    public var caCertificates: String?
    /// The gateway's own certificate and key, for MUTUAL.
    public var clientCertificate: String?
    public var privateKey: String?
    /// The server name sent in the ClientHello; nil sends none.
    public var sni: String?
    /// Skips verifying the endpoint's certificate.
    public var insecureSkipVerify: Bool

    public init(
        mode: Mode, caCertificates: String? = nil, clientCertificate: String? = nil, privateKey: String? = nil, sni: String? = nil,
        insecureSkipVerify: Bool = false
    ) {
        self.mode = mode
        self.caCertificates = caCertificates
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
        self.sni = sni
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// The modes the gateway serves; `ISTIO_MUTUAL` is refused when decoded.
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        /// Plain TCP, as with no `tls` at all.
        case disable = "DISABLE"
        /// TLS, verifying the endpoint.
        case simple = "SIMPLE"
        /// TLS with the gateway's client certificate.
        case mutual = "MUTUAL"
    }
}
