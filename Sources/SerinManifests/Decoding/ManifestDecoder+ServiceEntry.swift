import SerinCore

extension ManifestDecoder {
    static func serviceEntry(_ spec: Field, name: ResourceName, reader: DocumentReader) -> ServiceEntryResource? {
        let schema = Schema(
            known: ["hosts", "addresses", "ports", "location", "resolution", "endpoints", "subjectAltNames", "exportTo"],
            notApplied: ["workloadSelector"]
        )
        guard let fields = reader.mapping(spec, schema),
            let hostsField = reader.required("hosts", in: fields),
            let hosts = reader.stringList(hostsField)
        else { return nil }
        exportTo(fields["exportTo"], of: "ServiceEntry", reader: reader)
        let addresses = fields["addresses"].flatMap(reader.stringList) ?? []
        var ports: [ServiceEntryResource.Port] = []
        if let portsField = fields["ports"] {
            guard let entries = reader.list(portsField) else { return nil }
            ports = entries.compactMap { serviceEntryPort($0, reader: reader) }
            guard ports.count == entries.count else { return nil }
        }
        let location = fields["location"].flatMap { reader.choice($0, as: ServiceEntryResource.Location.self) }
        let resolutionField = fields["resolution"]
        var resolution = ServiceEntryResource.Resolution.none
        if let resolutionField {
            guard let value = reader.choice(resolutionField, as: ServiceEntryResource.Resolution.self) else { return nil }
            resolution = value
        }
        var endpoints: [ServiceEndpoint] = []
        if let endpointsField = fields["endpoints"] {
            guard let entries = reader.list(endpointsField) else { return nil }
            endpoints = entries.compactMap { endpoint($0, portNames: ports.map(\.name), reader: reader) }
            guard endpoints.count == entries.count else { return nil }
        }
        checkResolution(resolution, field: resolutionField ?? spec, hasEndpoints: !endpoints.isEmpty, reader: reader)
        return ServiceEntryResource(
            name: name, hosts: hosts, addresses: addresses, ports: ports, location: location ?? .meshExternal,
            resolution: resolution, endpoints: endpoints, subjectAltNames: fields["subjectAltNames"].flatMap(reader.stringList) ?? []
        )
    }

    /// The embedded gateway has no DNS-based discovery: only STATIC endpoints tell it where to connect.
    private static func checkResolution(
        _ resolution: ServiceEntryResource.Resolution, field: Field, hasEndpoints: Bool, reader: DocumentReader
    ) {
        switch resolution {
        case .static:
            if !hasEndpoints {
                reader.warning(
                    "resolution STATIC without endpoints: the embedded gateway has nowhere to send this traffic",
                    at: field.node
                )
            }
        case .none where hasEndpoints:
            reader.unsupported("resolution STATIC is required when endpoints are given, got NONE", at: field.node)
        case .none, .dns, .dnsRoundRobin:
            reader.warning(
                "resolution \(resolution.rawValue) is not used by the embedded gateway: it needs STATIC endpoints",
                at: field.node
            )
        }
    }

    /// Istio's port protocols.
    static let portProtocols = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "HTTP_PROXY", "MONGO", "MYSQL", "REDIS", "TCP", "TLS", "UDP"]

    private static func serviceEntryPort(_ field: Field, reader: DocumentReader) -> ServiceEntryResource.Port? {
        guard let fields = reader.mapping(field, Schema(known: ["number", "name", "protocol", "targetPort"])),
            let numberField = reader.required("number", in: fields),
            let number = reader.port(numberField),
            let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField)
        else { return nil }
        var portProtocol: String?
        if let protocolField = fields["protocol"], let text = reader.string(protocolField) {
            // Istio parses it regardless of case and refuses a word it does not know: a typo (`GRCP`) would
            // otherwise send gRPC as HTTP/1.
            guard Self.portProtocols.contains(text.uppercased()) else {
                reader.error(
                    "\(protocolField.path): expected one of \(Self.portProtocols.joined(separator: ", ")), got \"\(text)\"",
                    at: protocolField.node
                )
                return nil
            }
            portProtocol = text
        }
        return ServiceEntryResource.Port(
            number: number, name: name, protocol: portProtocol,
            targetPort: fields["targetPort"].flatMap(reader.port)
        )
    }

    /// `portNames`: the entry's port names, which the endpoint's `ports` map to its own port numbers.
    private static func endpoint(_ field: Field, portNames: [String], reader: DocumentReader) -> ServiceEndpoint? {
        let schema = Schema(
            known: ["address", "ports", "labels", "weight", "locality"], ignored: ["network", "serviceAccount"]
        )
        guard let fields = reader.mapping(field, schema),
            let addressField = reader.required("address", in: fields),
            let address = reader.string(addressField)
        else { return nil }
        var ports: [String: Int] = [:]
        if let portsField = fields["ports"], let entries = reader.entries(portsField) {
            for (name, child) in entries {
                if let port = reader.port(child) { ports[name] = port }
                // A typo here sends the port's traffic to the endpoint on the service port's own number, as Istio
                // does: a warning, since that is rarely what was meant.
                if !portNames.contains(name) {
                    reader.warning(
                        "\(child.path): no port of this ServiceEntry is named \(name) (ports: \(portNames.joined(separator: ", "))); "
                            + "the endpoint is reached on each port's own number",
                        at: child.node
                    )
                }
            }
        }
        let labels = fields["labels"].flatMap(reader.stringMap) ?? [:]
        // Istio's weight is a uint32 where 0 means unset: Envoy's default of 1.
        let weight = fields["weight"].flatMap(reader.count).map { max($0, 1) } ?? 1
        return ServiceEndpoint(
            address: address, ports: ports, labels: labels, weight: weight, locality: fields["locality"].flatMap { locality($0, reader: reader) }
        )
    }

    /// A locality as Istio writes one, `region`, `region/zone` or `region/zone/subzone`.
    static func locality(_ field: Field, reader: DocumentReader) -> Locality? {
        guard let text = reader.string(field) else { return nil }
        guard let locality = Locality(text) else {
            reader.error("\(field.path) is \"\(text)\", expected region, region/zone or region/zone/subzone", at: field.node)
            return nil
        }
        return locality
    }
}
