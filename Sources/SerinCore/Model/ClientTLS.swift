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
    /// Names the endpoint's certificate must carry one of (DNS, URI or IP subject alternative names); empty: see
    /// `verifiedNames(host:)`.
    public var subjectAltNames: [String]

    public init(
        mode: Mode, caCertificates: String? = nil, clientCertificate: String? = nil, privateKey: String? = nil, sni: String? = nil,
        insecureSkipVerify: Bool = false, subjectAltNames: [String] = []
    ) {
        self.mode = mode
        self.caCertificates = caCertificates
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
        self.sni = sni
        self.insecureSkipVerify = insecureSkipVerify
        self.subjectAltNames = subjectAltNames
    }

    /// The names the endpoint's certificate is checked against, as Istio has Envoy check them: `subjectAltNames`
    /// when given; else, when `sni` is left out too, the `host` the request is for (Envoy's `auto_san_validation`,
    /// which Istio sets with `auto_sni`); nil — the chain alone — when `sni` is written without `subjectAltNames`,
    /// and nothing at all with `insecureSkipVerify` or without TLS.
    public func verifiedNames(host: String) -> [String]? {
        guard mode != .disable, !insecureSkipVerify else { return nil }
        if !subjectAltNames.isEmpty { return subjectAltNames }
        return sni == nil && !host.isEmpty ? [host] : nil
    }

    private enum CodingKeys: String, CodingKey {
        case mode, caCertificates, clientCertificate, privateKey, sni, insecureSkipVerify, subjectAltNames
    }

    /// Policies saved before `subjectAltNames` existed decode with none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            mode: try container.decode(Mode.self, forKey: .mode),
            caCertificates: try container.decodeIfPresent(String.self, forKey: .caCertificates),
            clientCertificate: try container.decodeIfPresent(String.self, forKey: .clientCertificate),
            privateKey: try container.decodeIfPresent(String.self, forKey: .privateKey),
            sni: try container.decodeIfPresent(String.self, forKey: .sni),
            insecureSkipVerify: try container.decode(Bool.self, forKey: .insecureSkipVerify),
            subjectAltNames: try container.decodeIfPresent([String].self, forKey: .subjectAltNames) ?? []
        )
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
