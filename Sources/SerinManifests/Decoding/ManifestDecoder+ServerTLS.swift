import Foundation
import SerinCore

/// A Gateway server's `tls`: Istio's ServerTLSSettings, as far as the embedded gateway terminates TLS or passes it
/// through by SNI.
extension ManifestDecoder {
    static let serverTLSSchema = Schema(
        known: Set(
            [
                "httpsRedirect", "mode", "serverCertificate", "privateKey", "caCertificates", "credentialName",
                "minProtocolVersion", "maxProtocolVersion", "cipherSuites",
            ] + refusedServerTLSFields.keys
        )
    )

    /// Istio's fields the gateway does not apply, refused rather than ignored: each narrows who may connect, so
    /// ignoring one would admit clients the user meant to refuse.
    static let refusedServerTLSFields: [String: String] = [
        "subjectAltNames": "client certificates are verified against caCertificates only",
        "verifyCertificateSpki": "client certificates are verified against caCertificates only",
        "verifyCertificateHash": "client certificates are verified against caCertificates only",
        "caCrl": "certificate revocation lists are not checked",
        "credentialNames": "give one credentialName",
        "tlsCertificates": "give serverCertificate and privateKey, or credentialName",
    ]

    /// Istio's modes the gateway cannot serve, each with why.
    static let refusedServerTLSModes: [String: String] = [
        "AUTO_PASSTHROUGH": "it routes by SNI to mesh services over Istio mTLS, which the embedded gateway has none of",
        "ISTIO_MUTUAL": "it uses the mesh's Istio-issued certificates, which the embedded gateway has none of",
    ]

    /// Istio's mode that passes TLS through to the destination, routed by the ClientHello's server name.
    static let passthroughMode = "PASSTHROUGH"

    /// `(tls, httpsRedirect, passesThrough)` for a server of `serverProtocol` (upper-cased); nil tls on an HTTP
    /// server and on a PASSTHROUGH one. Reports what is missing or refused at its field; returns nil only when the
    /// document is malformed.
    static func serverTLS(
        _ field: Field?, serverProtocol: String, protocolField: Field, reader: DocumentReader
    ) -> (tls: ServerTLS?, httpsRedirect: Bool, passesThrough: Bool)? {
        guard let field else {
            if serverProtocol == "TLS" {
                reader.unsupported(
                    "\(protocolField.path): a TLS server needs tls.mode PASSTHROUGH (the embedded gateway passes TLS through "
                        + "by SNI; to terminate TLS use protocol HTTPS)",
                    at: protocolField.node
                )
            } else if serverProtocol == "HTTPS" {
                reader.unsupported(
                    "\(protocolField.path): an HTTPS server needs tls (mode SIMPLE or MUTUAL, with serverCertificate and "
                        + "privateKey or credentialName)",
                    at: protocolField.node
                )
            }
            return (nil, false, false)
        }
        // Reading a Kubernetes reader's leniency: unknown TLS fields would change who may connect.
        guard let fields = reader.mapping(field, serverTLSSchema) else { return nil }
        var httpsRedirect = fields["httpsRedirect"].flatMap(reader.bool) ?? false
        if httpsRedirect, serverProtocol == "HTTPS" || serverProtocol == "TLS", let redirect = fields["httpsRedirect"] {
            // Its requests are https already: a 301 to the same URL would send the client round in a loop.
            reader.warning("\(redirect.path) redirects an HTTP server's requests to https; on this \(serverProtocol) server they are "
                + "https already, so it is ignored (as Istio ignores it on TLS connections)", at: redirect.node)
            httpsRedirect = false
        }
        for (key, why) in refusedServerTLSFields.sorted(by: { $0.key < $1.key }) {
            guard let refused = fields[key] else { continue }
            reader.unsupported("\(refused.path) is not supported by the embedded gateway: \(why)", at: refused.node)
        }
        if serverProtocol == "HTTPS" || serverProtocol == "TLS",
            let passesThrough = passthrough(fields, in: field, serverProtocol: serverProtocol, reader: reader)
        {
            return (nil, httpsRedirect, passesThrough)
        }
        if serverProtocol != "HTTPS" {
            let settings = fields.children.keys.filter { $0 != "httpsRedirect" }.sorted()
            if !settings.isEmpty {
                reader.unsupported(
                    "\(field.path): \(settings.joined(separator: ", ")) \(settings.count == 1 ? "applies" : "apply") to an HTTPS server; this server's protocol is "
                        + "\(serverProtocol), where tls takes httpsRedirect only",
                    at: field.node
                )
            }
            return (nil, httpsRedirect, false)
        }
        guard let mode = serverTLSMode(fields["mode"], in: field, reader: reader) else { return (nil, httpsRedirect, false) }
        guard let credential = credential(fields, in: field, mode: mode, reader: reader) else { return (nil, httpsRedirect, false) }
        let minimum = fields["minProtocolVersion"].flatMap { protocolVersion($0, reader: reader) }
        let maximum = fields["maxProtocolVersion"].flatMap { protocolVersion($0, reader: reader) }
        if let minimum, let maximum, minimum > maximum, let maxField = fields["maxProtocolVersion"] {
            reader.unsupported(
                "\(maxField.path): expected a version at or above minProtocolVersion \(minimum.rawValue), got \(maximum.rawValue)",
                at: maxField.node
            )
        }
        let ciphers = fields["cipherSuites"].flatMap { cipherSuites($0, reader: reader) } ?? []
        if let minimum, minimum < .tls1_2, fields["cipherSuites"] == nil, let minField = fields["minProtocolVersion"] {
            // Istio's own warning: the default suites are TLS 1.2's alone, so no older client could connect.
            reader.warning(
                "\(minField.path): TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include "
                    + "compatible ciphers: a \(minimum.rawValue) client finds no suite it can use; add cipherSuites such as ECDHE-RSA-AES128-SHA",
                at: minField.node
            )
        }
        let tls = ServerTLS(
            mode: mode, credential: credential, minProtocolVersion: minimum, maxProtocolVersion: maximum, cipherSuites: ciphers
        )
        return (tls, httpsRedirect, false)
    }

    /// For an HTTPS or TLS server: true when its mode is PASSTHROUGH (any certificate setting beside it is
    /// refused: the destination presents its own), false when a TLS server asks to terminate (refused: the gateway
    /// would have to forward plain TCP), nil when an HTTPS server terminates TLS as usual.
    private static func passthrough(_ fields: Fields, in field: Field, serverProtocol: String, reader: DocumentReader) -> Bool? {
        let mode = fields["mode"].flatMap(reader.string)
        guard mode == passthroughMode else {
            guard serverProtocol == "TLS" else { return nil }
            let at = fields["mode"] ?? field
            // A mode no TLS setting has is a typo (PASSTHRU), said as one.
            if let mode, ServerTLS.Mode(rawValue: mode) == nil, refusedServerTLSModes[mode] == nil {
                unknownServerTLSMode(mode, at: at, reader: reader)
                return false
            }
            reader.unsupported(
                "\(at.path): a TLS server with mode \(mode ?? "SIMPLE") would terminate TLS and forward plain TCP, which the "
                    + "embedded gateway does not; use mode PASSTHROUGH, or protocol HTTPS to terminate TLS",
                at: at.node
            )
            return false
        }
        let settings = fields.children.keys.filter { $0 != "mode" && $0 != "httpsRedirect" }.sorted()
        if !settings.isEmpty {
            reader.unsupported(
                "\(field.path): \(settings.joined(separator: ", ")) \(settings.count == 1 ? "does" : "do") not apply to mode PASSTHROUGH: the gateway does not "
                    + "terminate TLS, the destination presents its own certificate",
                at: field.node
            )
        }
        return true
    }

    private static func serverTLSMode(_ field: Field?, in tlsField: Field, reader: DocumentReader) -> ServerTLS.Mode? {
        // Istio's default mode is SIMPLE.
        guard let field else { return .simple }
        guard let text = reader.string(field) else { return nil }
        if let mode = ServerTLS.Mode(rawValue: text) { return mode }
        if let why = refusedServerTLSModes[text] {
            reader.unsupported(
                "\(field.path): mode \(text) is not supported: \(why); use SIMPLE, MUTUAL, OPTIONAL_MUTUAL or PASSTHROUGH", at: field.node
            )
        } else {
            unknownServerTLSMode(text, at: field, reader: reader)
        }
        return nil
    }

    private static func unknownServerTLSMode(_ text: String, at field: Field, reader: DocumentReader) {
        let expected = ServerTLS.Mode.allCases.map(\.rawValue) + [passthroughMode] + refusedServerTLSModes.keys.sorted()
        reader.error("\(field.path): expected one of \(expected.joined(separator: ", ")), got \"\(text)\"", at: field.node)
    }

    /// `TLS_AUTO` (the library's choice) is nil.
    /// `cipherSuites`: each entry a suite the gateway's TLS library (BoringSSL) knows, by its OpenSSL name as Istio
    /// and Envoy write them or by its IANA name, or an equal-preference group `[A|B]` of such names. A name it does
    /// not know would stop the gateway as it set up the port, so it is an error here, at its line.
    private static func cipherSuites(_ field: Field, reader: DocumentReader) -> [String]? {
        guard let elements = reader.list(field) else { return nil }
        var suites: [String] = []
        for element in elements {
            guard let text = reader.string(element) else { continue }
            let names = text.hasPrefix("[") && text.hasSuffix("]") ? text.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false) : [Substring(text)]
            let unknown = names.filter { !ServerTLS.knownCipherSuites.contains(String($0)) }
            guard unknown.isEmpty else {
                reader.error(
                    "\(element.path): unknown cipher suite \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")); expected names such as "
                        + "ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-CHACHA20-POLY1305, or [A|B] for a group of equal preference "
                        + "(TLS 1.3's suites are not chosen here)",
                    at: element.node
                )
                continue
            }
            suites.append(text)
        }
        return suites
    }

    private static func protocolVersion(_ field: Field, reader: DocumentReader) -> TLSProtocolVersion? {
        guard let text = reader.string(field) else { return nil }
        if text == "TLS_AUTO" { return nil }
        if let version = TLSProtocolVersion(rawValue: text) { return version }
        let expected = ["TLS_AUTO"] + TLSProtocolVersion.allCases.map(\.rawValue)
        reader.error("\(field.path): expected one of \(expected.joined(separator: ", ")), got \"\(text)\"", at: field.node)
        return nil
    }

    /// Files or a Secret, never both; MUTUAL needs CA certificates (a file, or the Secret's `ca.crt` or its
    /// `NAME-cacert` Secret, checked once the Secrets are known).
    private static func credential(_ fields: Fields, in tlsField: Field, mode: ServerTLS.Mode, reader: DocumentReader) -> TLSCredential? {
        func path(_ key: String) -> String? { fields[key].flatMap { certificatePath($0, reader: reader) } }
        let certificate = path("serverCertificate")
        let key = path("privateKey")
        let ca = path("caCertificates")
        if let nameField = fields["credentialName"] {
            guard let name = reader.string(nameField) else { return nil }
            if let fileField = fields["serverCertificate"] ?? fields["privateKey"] ?? fields["caCertificates"] {
                reader.unsupported(
                    "\(fileField.path): give credentialName or certificate files, not both (credentialName \(name) is given)",
                    at: fileField.node
                )
                return nil
            }
            return .secret(name: name, material: nil)
        }
        var missing: [String] = []
        if fields["serverCertificate"] == nil { missing.append("serverCertificate") }
        if fields["privateKey"] == nil { missing.append("privateKey") }
        if mode.verifiesClients && fields["caCertificates"] == nil { missing.append("caCertificates") }
        if !missing.isEmpty {
            reader.unsupported(
                "\(tlsField.path): mode \(mode.rawValue) needs \(missing.joined(separator: " and ")) (or credentialName), missing",
                at: tlsField.node
            )
            return nil
        }
        guard let certificate, let key else { return nil }
        return .files(certificateChain: certificate, privateKey: key, caCertificates: ca)
    }

    /// A certificate or key file's path, resolved against the manifest's directory when relative; a file that does
    /// not exist is reported at the field.
    static func certificatePath(_ field: Field, reader: DocumentReader) -> String? {
        guard let text = reader.string(field) else { return nil }
        guard !text.isEmpty else {
            reader.unsupported("\(field.path): expected a file path, got an empty string", at: field.node)
            return nil
        }
        let resolved = text.hasPrefix("/") ? text : manifestDirectory(of: reader.file) + text
        if !FileManager.default.fileExists(atPath: resolved) {
            let shown = resolved == text ? text : "\(text) (\(resolved), relative to the manifest's directory)"
            reader.unsupported("\(field.path): cannot read \(shown): no such file", at: field.node)
        }
        return resolved
    }

    /// The directory of a manifest file, with its trailing slash, made absolute: a certificate path relative to
    /// it stays right whatever directory the gateway later runs in.
    static func manifestDirectory(of file: String) -> String {
        var directory = file.contains("/") ? String(file[...file.lastIndex(of: "/")!]) : ""
        if !directory.hasPrefix("/") {
            let current = FileManager.default.currentDirectoryPath
            directory = (current.hasSuffix("/") ? current : current + "/") + directory
        }
        return directory
    }
}
