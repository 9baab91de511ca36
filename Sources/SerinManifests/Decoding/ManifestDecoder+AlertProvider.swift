import SerinCore

extension ManifestDecoder {
    /// An AlertProvider (`serin.dev/v1alpha1`, or Flagger's `flagger.app/v1beta1` read unchanged): where alerts go
    /// and in which shape. The address is written or kept in a Secret (`secretRef`); one of them is required.
    static func alertProvider(_ spec: Field, name: ResourceName, reader: DocumentReader) -> AlertProvider? {
        let schema = Schema(known: ["type", "channel", "username", "address", "proxy", "secretRef"])
        guard let fields = reader.mapping(spec, schema) else { return nil }
        let type = reader.required("type", in: fields).flatMap { reader.choice($0, as: AlertProvider.Kind.self) }
        let channel = fields["channel"].flatMap(reader.string)
        let username = fields["username"].flatMap(reader.string)
        let address = fields["address"].flatMap { httpURL($0, reader: reader) }
        let proxy = fields["proxy"].flatMap { httpURL($0, reader: reader) }
        let secretRef = fields["secretRef"].flatMap { secretName($0, owner: "provider", reader: reader) }
        guard let type, fields["address"] == nil || address != nil, fields["proxy"] == nil || proxy != nil,
            fields["secretRef"] == nil || secretRef != nil
        else { return nil }
        guard address != nil || secretRef != nil else {
            reader.error("\(spec.path): has neither address nor secretRef; write the webhook URL or the Secret holding it (key address)", at: spec.node)
            return nil
        }
        return AlertProvider(
            name: name, type: type, channel: channel ?? AlertProvider.defaultChannel, username: username ?? AlertProvider.defaultUsername,
            address: address, proxy: proxy, secretRef: secretRef)
    }

    /// An `http://` or `https://` URL with a host. The text is not repeated in the error: a webhook URL is a secret.
    private static func httpURL(_ field: Field, reader: DocumentReader) -> String? {
        guard let text = reader.string(field) else { return nil }
        let lower = text.lowercased()
        let rest = lower.hasPrefix("https://") ? lower.dropFirst(8) : lower.hasPrefix("http://") ? lower.dropFirst(7) : nil
        guard let rest, let host = rest.split(separator: "/", omittingEmptySubsequences: false).first, !host.isEmpty else {
            reader.error("\(field.path): expected an http:// or https:// URL with a host", at: field.node)
            return nil
        }
        return text
    }

    /// One of a Canary's `analysis.alerts` (Flagger's CanaryAlert): `name`, `severity` (default info) and
    /// `providerRef: {name, namespace}`, the namespace defaulting to the Canary's.
    static func alert(_ field: Field, namespace: String, reader: DocumentReader) -> AlertSpec? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "severity", "providerRef"])) else { return nil }
        let name = reader.required("name", in: fields).flatMap(reader.string)
        let severity = fields["severity"].map { reader.choice($0, as: AlertSeverity.self) } ?? .info
        let provider = reader.required("providerRef", in: fields).flatMap { reference in
            reader.mapping(reference, Schema(known: ["name", "namespace"])).flatMap { ref -> ResourceName? in
                guard let name = reader.required("name", in: ref).flatMap(reader.string) else { return nil }
                let providerNamespace = ref["namespace"].flatMap(reader.string) ?? namespace
                return ResourceName(namespace: providerNamespace.isEmpty ? namespace : providerNamespace, name: name)
            }
        }
        guard let name, let severity, let provider else { return nil }
        return AlertSpec(name: name, severity: severity, provider: provider)
    }
}
