import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import SerinCore

/// The TLS contexts of one HTTPS port: one per server, chosen by the ClientHello's server name (SNI) the way
/// Envoy picks a filter chain. A client that sends no name, or one no server's hosts match, gets the first
/// server's certificate. The Host of the requests that follow is routed by the listener's usual host rules.
struct PortTLS: Sendable {
    struct Entry: Sendable {
        /// The Gateway server: its hosts and TLS settings. A connection's requests route only through servers that
        /// verify clients as it does (`RouteTable.resolve(_:port:handshake:)`).
        let server: RouteTable.ServerBinding
        let context: NIOSSLContext
    }

    let entries: [Entry]

    /// The server for a ClientHello naming `serverName` (`RouteTable.ServerBinding.handshakeServer`), else the first.
    func entry(forServerName serverName: String?) -> Entry {
        guard let serverName, let index = RouteTable.ServerBinding.handshakeServer(forName: serverName, among: entries.map(\.server)) else {
            return entries[0]
        }
        return entries[index]
    }

    /// Whether one context serves every name, so no ClientHello needs reading first.
    var isSingle: Bool { entries.count == 1 }
}

/// Builds NIOSSL contexts from a server's `tls`: certificate files or a Secret's PEM, client verification for
/// MUTUAL and OPTIONAL_MUTUAL, protocol versions and TLS 1.2 cipher suites. Errors name the server and the file.
public enum GatewayTLS {
    /// Every HTTPS listener's contexts, by declared port.
    static func contexts(for table: RouteTable) throws(GatewayError) -> [Int: PortTLS] {
        var ports: [Int: PortTLS] = [:]
        for (port, listener) in table.listeners where listener.terminatesTLS {
            var entries: [PortTLS.Entry] = []
            for (server, tls, label) in servers(of: listener, port: port) {
                entries.append(PortTLS.Entry(server: server, context: try context(for: tls, server: label)))
            }
            ports[port] = PortTLS(entries: entries)
        }
        return ports
    }

    /// What would stop the gateway setting up `gateway`'s HTTPS servers (their `credentialName` resolved), by server
    /// index: a certificate or key that does not parse, a key that is not the certificate's. `serin validate` says these
    /// at each server's `tls`, so a file checked there is not refused only when the gateway starts.
    public static func serverProblems(of gateway: Gateway) -> [(server: Int, message: String)] {
        var problems: [(server: Int, message: String)] = []
        for (index, server) in gateway.servers.enumerated() where server.terminatesTLS {
            guard let tls = server.tls else { continue }
            let label = serverLabel(gateway: gateway.name, port: server.port, hosts: server.hosts)
            do {
                _ = try context(for: tls, server: label)
            } catch {
                problems.append((index, error.description))
            }
        }
        return problems
    }

    /// What would stop the gateway setting up `table`'s TLS to clusters, one line per cluster.
    public static func clientProblems(in table: RouteTable) -> [String] {
        clientTLSErrors(of: UpstreamClusters.wanted(in: table)).map(\.description)
    }

    /// What stops each of `clusters` (by name) setting up its `tls`, in the order of their names: for `serin validate`
    /// all of them, for an install the first (`UpstreamClusters.checkTLS`).
    static func clientTLSErrors(of clusters: [String: Cluster]) -> [GatewayError] {
        var errors: [GatewayError] = []
        for (name, cluster) in clusters.sorted(by: { $0.key < $1.key }) {
            guard let tls = cluster.trafficPolicy.tls else { continue }
            do {
                _ = try clientContext(for: tls, cluster: name)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    /// Server certificates that clients will refuse by their dates alone: expired, or not valid yet, at `now`. Warnings,
    /// not errors: the gateway serves them (a renewed file is picked up by the reload), but every handshake fails.
    public static func certificateDateWarnings(in table: RouteTable, now: Date = Date()) -> [String] {
        var warnings: [String] = []
        for (port, listener) in table.listeners.sorted(by: { $0.key < $1.key }) where listener.terminatesTLS {
            for (_, tls, label) in servers(of: listener, port: port) {
                if let warning = dateWarning(tls, label: label, now: now) { warnings.append(warning) }
            }
        }
        return warnings
    }

    /// `certificateDateWarnings` of `gateway`'s HTTPS servers (their `credentialName` resolved), by server index, for
    /// `serin validate` to say at each server's `tls`.
    public static func certificateDateWarnings(of gateway: Gateway, now: Date = Date()) -> [(server: Int, message: String)] {
        gateway.servers.enumerated().compactMap { index, server in
            guard server.terminatesTLS, let tls = server.tls else { return nil }
            let label = serverLabel(gateway: gateway.name, port: server.port, hosts: server.hosts)
            return dateWarning(tls, label: label, now: now).map { (index, $0) }
        }
    }

    private static func dateWarning(_ tls: ServerTLS, label: String, now: Date) -> String? {
        let leaf: NIOSSLCertificate?
        switch tls.credential {
        case .files(let chain, _, _): leaf = (try? NIOSSLCertificate.fromPEMFile(chain))?.first
        case .secret(_, let material): leaf = material.flatMap { try? NIOSSLCertificate.fromPEMBytes($0.certificateChain).first }
        }
        guard let leaf else { return nil }
        let source = certificateSource(tls.credential)
        let after = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let before = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        if after < now { return "\(label): the certificate \(source) expired on \(Self.utc(after)): clients refuse it" }
        if before > now { return "\(label): the certificate \(source) is not valid until \(Self.utc(before)): clients refuse it until then" }
        return nil
    }

    private static func utc(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date) + " UTC"
    }

    /// A listener's servers with `tls`, each with the label its errors name it by.
    private static func servers(of listener: RouteTable.Listener, port: Int) -> [(RouteTable.ServerBinding, ServerTLS, String)] {
        listener.servers.compactMap { server in
            guard let tls = server.tls else { return nil }
            return (server, tls, serverLabel(gateway: server.gateway, port: port, hosts: server.hosts.map(\.text)))
        }
    }

    /// `Gateway default/web-gateway port 443 (hosts web.example.com)`: how every message names an HTTPS server.
    private static func serverLabel(gateway: ResourceName, port: Int, hosts: [String]) -> String {
        "Gateway \(gateway) port \(port) (hosts \(hosts.joined(separator: ", ")))"
    }

    static func context(for tls: ServerTLS, server: String) throws(GatewayError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        var ca: [NIOSSLCertificate]?
        switch tls.credential {
        case .files(let chainPath, let keyPath, let caPath):
            chain = try load("serverCertificate", file: chainPath, server: server) { try NIOSSLCertificate.fromPEMFile(chainPath) }
            key = try load("privateKey", file: keyPath, server: server) { try NIOSSLPrivateKey(file: keyPath, format: .pem) }
            if let caPath {
                ca = try load("caCertificates", file: caPath, server: server) { try NIOSSLCertificate.fromPEMFile(caPath) }
            }
        case .secret(let name, let material):
            guard let material else {
                throw .tls("\(server): credentialName \(name): no Secret \(name) with tls.crt and tls.key was given with -f")
            }
            chain = try load("tls.crt of \(material.source)", server: server) { try NIOSSLCertificate.fromPEMBytes(material.certificateChain) }
            key = try load("tls.key of \(material.source)", server: server) { try NIOSSLPrivateKey(bytes: material.privateKey, format: .pem) }
            if let bytes = material.caCertificates {
                ca = try load("ca.crt of \(material.source)", server: server) { try NIOSSLCertificate.fromPEMBytes(bytes) }
            }
        }
        guard !chain.isEmpty else { throw .tls("\(server): the server certificate holds no PEM certificate") }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // HTTP/2 for the clients that offer it (the proxy hands such a connection to NIOHTTP2), else HTTP/1.1.
        configuration.applicationProtocols = ["h2", "http/1.1"]
        // TLS_AUTO (or no field) is 1.2–1.3, Envoy's server default: the library alone would also take 1.0 and 1.1.
        configuration.minimumTLSVersion = (tls.minProtocolVersion ?? Self.defaultMinimum(below: tls.maxProtocolVersion)).nioVersion
        if let maximum = tls.maxProtocolVersion { configuration.maximumTLSVersion = maximum.nioVersion }
        configuration.cipherSuites = (tls.cipherSuites.isEmpty ? ServerTLS.defaultCipherSuites : tls.cipherSuites).joined(separator: ":")
        if tls.mode.verifiesClients {
            guard let ca, !ca.isEmpty else {
                throw .tls("\(server): mode \(tls.mode.rawValue) needs caCertificates to verify clients, none given")
            }
            configuration.trustRoots = .certificates(ca)
            configuration.certificateVerification = tls.mode == .mutual ? .noHostnameVerification : .optionalVerification
            // Clients (curl, browsers) pick which certificate to present from the CA names the server sends.
            configuration.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // Both files were read; the key is not the certificate's.
            throw .tls("\(server): the private key \(Self.keySource(tls.credential)) does not belong to the certificate \(Self.certificateSource(tls.credential))")
        } catch {
            let hint = tls.cipherSuites.isEmpty ? "" : " (check cipherSuites: \(tls.cipherSuites.joined(separator: ", ")))"
            throw .tls("\(server): cannot set up TLS: \(error)\(hint)")
        }
    }

    private static func keySource(_ credential: TLSCredential) -> String {
        switch credential {
        case .files(_, let key, _): key
        case .secret(let name, let material): "tls.key of \(material?.source ?? "Secret \(name)")"
        }
    }

    private static func certificateSource(_ credential: TLSCredential) -> String {
        switch credential {
        case .files(let chain, _, _): chain
        case .secret(let name, let material): "tls.crt of \(material?.source ?? "Secret \(name)")"
        }
    }

    /// Runs `body`, which reads `what` (the file `file`, when it comes from one); a failure names the server, the
    /// field and the file, and says what is wrong in words.
    private static func load<Value>(_ what: String, file: String? = nil, server: String, _ body: () throws -> Value) throws(GatewayError) -> Value {
        do {
            return try body()
        } catch {
            throw .tls("\(server): cannot read \(what)\(file.map { " \($0)" } ?? ""): \(reason(error, file: file))")
        }
    }

    /// The TLS library's failure in words: what the file is instead of what was expected, never the library's case
    /// name (`failedToLoadCertificate`). `file`: where the PEM came from; nil for a Secret's bytes.
    static func reason(_ error: any Error, file: String?) -> String {
        var isDirectory: ObjCBool = false
        if let file {
            if !FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) { return "no such file" }
            if isDirectory.boolValue { return "it is a directory, expected a PEM file" }
        }
        let text = file.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        switch error as? NIOSSLError {
        case .failedToLoadCertificate?:
            return text.contains("PRIVATE KEY") && !text.contains("CERTIFICATE")
                ? "it holds a private key, expected a PEM certificate (-----BEGIN CERTIFICATE-----): are the two files swapped?"
                : "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
        case .failedToLoadPrivateKey?:
            if text.contains("ENCRYPTED") { return "the private key is encrypted: the gateway takes unencrypted PEM keys" }
            return text.contains("CERTIFICATE") && !text.contains("PRIVATE KEY")
                ? "it holds a certificate, expected a PEM private key (-----BEGIN PRIVATE KEY-----): are the two files swapped?"
                : "not a PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC PRIVATE KEY)"
        default:
            return "\(error)"
        }
    }
}

extension GatewayTLS {
    /// The lowest version a server takes when its `minProtocolVersion` is TLS_AUTO or absent: 1.2, or the maximum
    /// when one below 1.2 is written (a server for old clients only).
    static func defaultMinimum(below maximum: TLSProtocolVersion?) -> TLSProtocolVersion {
        guard let maximum, maximum < .tls1_2 else { return .tls1_2 }
        return maximum
    }
}

extension TLSProtocolVersion {
    var nioVersion: TLSVersion {
        switch self {
        case .tls1_0: .tlsv1
        case .tls1_1: .tlsv11
        case .tls1_2: .tlsv12
        case .tls1_3: .tlsv13
        }
    }
}

extension GatewayTLS {
    /// Puts TLS in front of `proxy` on a new connection: at once when the port has one certificate, else once the
    /// ClientHello's server name has picked one (NIO's SNIHandler reads it, then hands the bytes on unchanged).
    static func terminate(on channel: any Channel, before proxy: ProxyHandler, with tls: PortTLS) throws {
        let sync = channel.pipeline.syncOperations
        if tls.isSingle {
            proxy.handshake = tls.entries[0].server
            try sync.addHandler(NIOSSLServerHandler(context: tls.entries[0].context), position: .before(proxy))
            return
        }
        let sni = ByteToMessageHandler(
            SNIHandler { result in
                let serverName: String?
                switch result {
                case .hostname(let name): serverName = name
                case .fallback: serverName = nil
                }
                let chosen = tls.entry(forServerName: serverName)
                return channel.eventLoop.makeCompletedFuture {
                    proxy.handshake = chosen.server
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: chosen.context), position: .before(proxy))
                }
            }
        )
        try sync.addHandler(sni, position: .before(proxy))
    }
}

extension GatewayTLS {
    /// The TLS handler for one upstream connection: `serverName` in its ClientHello and, once the chain is
    /// verified, the certificate checked for one of `names`.
    static func clientHandler(context: NIOSSLContext, serverName: String?, names: UpstreamCertificateNames?) throws -> NIOSSLClientHandler {
        guard let names else { return try NIOSSLClientHandler(context: context, serverHostname: serverName) }
        return try NIOSSLClientHandler._makeSSLClientHandler(context: context, serverHostname: serverName) { certificate, channel in
            names.verify(certificate, on: channel.eventLoop)
        }
    }

    /// The context for a cluster's upstream connections from its traffic policy's `tls`; nil for DISABLE.
    static func clientContext(for tls: ClientTLS, cluster: String, http2: Bool = false) throws(GatewayError) -> NIOSSLContext? {
        guard tls.mode != .disable else { return nil }
        let label = "DestinationRule tls for \(cluster)"
        var configuration = TLSConfiguration.makeClientConfiguration()
        // Envoy's client default, as Istio's DestinationRule has no field for it.
        configuration.minimumTLSVersion = .tlsv12
        // ALPN says which protocol the cluster's connections speak: h2 for an HTTP/2 or gRPC port.
        configuration.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        if let caPath = tls.caCertificates {
            configuration.trustRoots = .certificates(try load("caCertificates", file: caPath, server: label) { try NIOSSLCertificate.fromPEMFile(caPath) })
        }
        // The chain here; the names (subjectAltNames, else the host) in `clientHandler`, as Envoy checks SANs
        // rather than the RFC 6125 hostname rules (no common name, no IP address of the socket).
        configuration.certificateVerification = tls.insecureSkipVerify ? .none : .noHostnameVerification
        if tls.mode == .mutual, let chainPath = tls.clientCertificate, let keyPath = tls.privateKey {
            let chain = try load("clientCertificate", file: chainPath, server: label) { try NIOSSLCertificate.fromPEMFile(chainPath) }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(try load("privateKey", file: keyPath, server: label) { try NIOSSLPrivateKey(file: keyPath, format: .pem) })
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // Both files were read; the key is not the certificate's.
            throw .tls("\(label): the privateKey \(tls.privateKey ?? "") does not belong to the clientCertificate \(tls.clientCertificate ?? "")")
        } catch {
            throw .tls("\(label): cannot set up TLS: \(error)")
        }
    }
}
