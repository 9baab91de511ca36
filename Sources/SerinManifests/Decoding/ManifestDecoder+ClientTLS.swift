import SerinCore

/// A traffic policy's `tls`: Istio's ClientTLSSettings, TLS on the gateway's connections to a cluster.
extension ManifestDecoder {
    /// Istio's ClientTLSSettings modes: the embedded gateway's own, and ISTIO_MUTUAL, which only the mesh serves.
    static let istioTLSModes = ClientTLS.Mode.allCases.map(\.rawValue) + ["ISTIO_MUTUAL"]

    static func clientTLS(_ field: Field, reader: DocumentReader) -> ClientTLS? {
        let schema = Schema(
            known: [
                "mode", "caCertificates", "clientCertificate", "privateKey", "sni", "insecureSkipVerify", "credentialName", "subjectAltNames",
                "caCrl",
            ]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        // Each would narrow which endpoints are trusted: ignoring one would trust endpoints meant to be refused.
        let refusals = [
            ("credentialName", "give clientCertificate, privateKey and caCertificates files"),
            ("caCrl", "certificate revocation lists are not checked"),
        ]
        for (key, why) in refusals {
            guard let refused = fields[key] else { continue }
            reader.unsupported("\(refused.path) is not supported by the embedded gateway: \(why)", at: refused.node)
        }
        guard let modeField = reader.required("mode", in: fields), let text = reader.string(modeField) else { return nil }
        guard let mode = ClientTLS.Mode(rawValue: text) else {
            if text == "ISTIO_MUTUAL" {
                reader.unsupported(
                    "\(modeField.path): mode ISTIO_MUTUAL is not supported: it uses the mesh's Istio-issued certificates, which the "
                        + "embedded gateway has none of; use SIMPLE or MUTUAL with certificate files",
                    at: modeField.node
                )
            } else {
                reader.error("\(modeField.path): expected one of \(istioTLSModes.joined(separator: ", ")), got \"\(text)\"", at: modeField.node)
            }
            return nil
        }
        func path(_ key: String) -> String? { fields[key].flatMap { certificatePath($0, reader: reader) } }
        let subjectAltNames = fields["subjectAltNames"].flatMap(reader.stringList) ?? []
        if let names = fields["subjectAltNames"], let empty = subjectAltNames.firstIndex(of: ""), let entries = reader.list(names) {
            reader.error("\(names.path)[\(empty)]: expected a name, got an empty string", at: entries[empty].node)
        }
        let tls = ClientTLS(
            mode: mode, caCertificates: path("caCertificates"), clientCertificate: path("clientCertificate"), privateKey: path("privateKey"),
            sni: fields["sni"].flatMap(reader.string), insecureSkipVerify: fields["insecureSkipVerify"].flatMap(reader.bool) ?? false,
            subjectAltNames: subjectAltNames
        )
        // As Istio's validation: a check the same policy turns off is a contradiction, not a choice.
        if tls.insecureSkipVerify, let insecure = fields["insecureSkipVerify"] {
            for key in ["caCertificates", "subjectAltNames"] where fields[key] != nil {
                reader.error(
                    "\(field.path): cannot specify \(key) when insecureSkipVerify is true: the endpoint's certificate would not be verified",
                    at: insecure.node
                )
            }
        }
        if mode == .mutual, tls.clientCertificate == nil || tls.privateKey == nil {
            reader.unsupported("\(field.path): mode MUTUAL needs clientCertificate and privateKey", at: field.node)
        }
        return tls
    }
}
