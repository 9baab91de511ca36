/// Istio's `ServerTLSSettings` on an HTTPS Gateway server: how the gateway terminates TLS for the server's hosts.
/// Only paths and settings live here; the gateway reads the certificates.
public struct ServerTLS: Hashable, Sendable {
    public var mode: Mode
    public var credential: TLSCredential
    /// Lowest and highest TLS version a client may negotiate; nil: the TLS library's (1.2 and 1.3).
    public var minProtocolVersion: TLSProtocolVersion?
    public var maxProtocolVersion: TLSProtocolVersion?
    /// OpenSSL cipher names for TLS 1.2 and below (TLS 1.3's suites are not configurable, as in Envoy); empty:
    /// `defaultCipherSuites`.
    public var cipherSuites: [String]

    public init(
        mode: Mode, credential: TLSCredential, minProtocolVersion: TLSProtocolVersion? = nil,
        maxProtocolVersion: TLSProtocolVersion? = nil, cipherSuites: [String] = []
    ) {
        self.mode = mode
        self.credential = credential
        self.minProtocolVersion = minProtocolVersion
        self.maxProtocolVersion = maxProtocolVersion
        self.cipherSuites = cipherSuites
    }

    /// What a handshake under these settings proves about the client: whether it was asked for a certificate and
    /// which CA verified it. Settings that differ only in the server's certificate, versions or ciphers admit the
    /// same clients.
    public var clientVerification: ClientVerification {
        guard mode.verifiesClients else { return ClientVerification(mode: mode, authority: nil) }
        switch credential {
        case .files(_, _, let ca): return ClientVerification(mode: mode, authority: ca.map { .file($0) })
        case .secret(let name, let material): return ClientVerification(mode: mode, authority: .secret(name: name, pem: material?.caCertificates))
        }
    }

    /// See `clientVerification`.
    public struct ClientVerification: Hashable, Sendable {
        public enum Authority: Hashable, Sendable {
            /// `caCertificates`: the file, whose later edits open connections do not see (they were verified already).
            case file(String)
            /// `credentialName`: the Secret and its CA certificates as given.
            case secret(name: String, pem: [UInt8]?)
        }
        public let mode: Mode
        public let authority: Authority?
    }

    /// The `tls.mode`s the gateway terminates. `PASSTHROUGH`, `AUTO_PASSTHROUGH` and `ISTIO_MUTUAL` are refused
    /// when decoded.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// The server presents its certificate; clients are not asked for one.
        case simple = "SIMPLE"
        /// Clients must present a certificate signed by the server's CA certificates.
        case mutual = "MUTUAL"
        /// Clients may present a certificate; one that is presented must verify.
        case optionalMutual = "OPTIONAL_MUTUAL"

        /// Whether clients' certificates are verified, so CA certificates are needed.
        public var verifiesClients: Bool { self != .simple }
    }
}

/// Where a server's certificate, key and client CA come from.
public enum TLSCredential: Hashable, Sendable {
    /// `serverCertificate`, `privateKey` and `caCertificates`: PEM files, as absolute paths (the decoder resolves a
    /// relative one against its manifest's directory).
    case files(certificateChain: String, privateKey: String, caCertificates: String?)
    /// `credentialName`: a `kubernetes.io/tls` Secret, with its PEM once the Secret is found among the manifests
    /// (nil until then, or when none of that name was given).
    case secret(name: String, material: TLSMaterial?)

    /// The files to watch for changes; none for a Secret (it changes by `serin apply`).
    public var files: [String] {
        guard case .files(let chain, let key, let ca) = self else { return [] }
        return [chain, key] + (ca.map { [$0] } ?? [])
    }
}

/// PEM text of a certificate chain, its key and optional CA certificates, from a Secret. Its description names
/// the source, never the bytes.
public struct TLSMaterial: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var certificateChain: [UInt8]
    public var privateKey: [UInt8]
    public var caCertificates: [UInt8]?
    /// `Secret default/web-credential`: where the bytes came from, for messages.
    public var source: String

    public init(certificateChain: [UInt8], privateKey: [UInt8], caCertificates: [UInt8]?, source: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.source = source
    }

    public var description: String { "TLS material from \(source)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["source": source], displayStyle: .struct) }
}

/// Istio's `TLSProtocol` names for `minProtocolVersion` and `maxProtocolVersion`.
public enum TLSProtocolVersion: String, Hashable, Sendable, CaseIterable, Comparable {
    case tls1_0 = "TLSV1_0"
    case tls1_1 = "TLSV1_1"
    case tls1_2 = "TLSV1_2"
    case tls1_3 = "TLSV1_3"

    public static func < (lhs: TLSProtocolVersion, rhs: TLSProtocolVersion) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension ServerTLS {
    /// The TLS 1.2 suites a server offers when `cipherSuites` names none: Envoy's server default, forward-secret AEAD
    /// suites only (the TLS library alone would also take CBC with SHA-1, which scanners flag). None of them exists
    /// below TLS 1.2, so a `minProtocolVersion` under it needs `cipherSuites` too, as Istio warns and Envoy behaves.
    public static let defaultCipherSuites = [
        "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]", "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    ]

    /// The TLS 1.2 and older suites BoringSSL can be told to offer: the OpenSSL names Istio and Envoy document, and the
    /// IANA names BoringSSL also accepts.
    public static let knownCipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-PSK-AES128-CBC-SHA",
        "ECDHE-PSK-AES256-CBC-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA",
        "PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA", "DES-CBC3-SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_PSK_WITH_AES_128_CBC_SHA", "TLS_PSK_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    ]
}
