import SerinCore

extension ManifestDecoder {
    /// The provider types Serin reads; Flagger's others (datadog, newrelic, cloudwatch...) are an error,
    /// never a silent fallback to another source.
    private enum ProviderType: String {
        case prometheus
        case gateway
    }

    /// Who a `provider` is for: a MetricTemplate's query needs a server that runs queries, which the
    /// gateway is not; a built-in metric can be read from either.
    enum ProviderUse {
        case metric
        case template

        fileprivate var expected: String {
            switch self {
            case .metric: return "prometheus or gateway"
            case .template: return "prometheus"
            }
        }
    }

    /// A `provider`: `{type: prometheus, address: http://...}`, or `{type: gateway}` for the embedded
    /// gateway's own counters.
    static func metricSource(_ field: Field, for use: ProviderUse, reader: DocumentReader) -> MetricSource? {
        provider(field, for: use, reader: reader)?.source
    }

    /// A `provider` with a MetricTemplate's `secretRef: {name: SECRET}` (Flagger's field), whose Secret holds the
    /// credentials; a Canary metric's provider has none.
    static func provider(_ field: Field, for use: ProviderUse, reader: DocumentReader) -> (source: MetricSource, secretRef: String?)? {
        let insecure = "Serin verifies the server's certificate; give it one its CA signed, or an http:// address"
        let schema = use == .template
            ? Schema(known: ["type", "address", "secretRef"], notRead: ["insecureSkipVerify": insecure])
            : Schema(
                known: ["type", "address"],
                notRead: ["secretRef": "credentials belong in a MetricTemplate's provider", "insecureSkipVerify": insecure])
        guard let fields = reader.mapping(field, schema),
            let typeField = reader.required("type", in: fields),
            let typeText = reader.string(typeField)
        else { return nil }
        let secretRef = fields["secretRef"].flatMap { secretName($0, reader: reader) }
        return source(type: typeText, typeField: typeField, fields: fields, in: field, for: use, reader: reader).map { ($0, secretRef) }
    }

    /// `secretRef: {name: SECRET}`, a Secret in the namespace of the `owner` (a template, a provider).
    static func secretName(_ field: Field, owner: String = "template", reader: DocumentReader) -> String? {
        guard let fields = reader.mapping(field, Schema(known: ["name"])),
            let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField)
        else { return nil }
        guard !name.isEmpty else {
            reader.error("\(nameField.path) is empty, expected the name of a Secret in the \(owner)'s namespace", at: nameField.node)
            return nil
        }
        return name
    }

    private static func source(
        type typeText: String, typeField: Field, fields: Fields, in field: Field, for use: ProviderUse, reader: DocumentReader
    ) -> MetricSource? {
        guard let type = ProviderType(rawValue: typeText) else {
            reader.error(
                "\(typeField.path): provider \(typeText) is not supported by Serin; expected \(use.expected)",
                at: typeField.node
            )
            return nil
        }
        switch type {
        case .gateway:
            if use == .template {
                // Kept as a value so references to this template do not cascade into "does not exist".
                reader.unsupported(
                    "\(typeField.path): provider gateway cannot run a MetricTemplate's query (the gateway only counts "
                        + "its own requests); expected prometheus",
                    at: typeField.node
                )
            }
            if let addressField = fields["address"] {
                reader.warning(
                    "\(addressField.path) is not used: the gateway provider reads the gateway's own counters",
                    at: addressField.node
                )
            }
            return .gateway
        case .prometheus:
            guard let addressField = fields["address"] else {
                reader.error(
                    "\(field.path(of: "address")) is required for provider prometheus, e.g. http://127.0.0.1:9090",
                    at: field.node
                )
                return nil
            }
            return prometheusAddress(addressField, reader: reader).map { .prometheus(address: $0) }
        }
    }

    /// A Prometheus server's URL: `http://` or `https://`, with a path prefix if it has one.
    static func prometheusAddress(_ field: Field, reader: DocumentReader) -> String? {
        guard let address = reader.string(field) else { return nil }
        if let problem = PrometheusAddress.problem(with: address) {
            reader.error("\(field.path): \(problem)", at: field.node)
            return nil
        }
        return address
    }
}
