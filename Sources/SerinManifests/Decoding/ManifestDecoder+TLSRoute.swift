import SerinCore

/// A VirtualService's `tls` list (Istio's TLSRoute): which server names go to which weighted destinations.
extension ManifestDecoder {
    /// TLSMatchAttributes the gateway cannot see, each with why: refused, since ignoring one would send
    /// connections the user meant to keep out.
    static let refusedTLSMatchFields: [String: String] = [
        "destinationSubnets": "the gateway routes by server name only; it does not know where a connection was headed",
    ]

    static func tlsRoutes(_ field: Field, hosts: [String], namespace: String, reader: DocumentReader) -> [TLSRoute]? {
        reader.list(field) { tlsRoute($0, hosts: hosts, namespace: namespace, reader: reader) }
    }

    private static func tlsRoute(_ field: Field, hosts: [String], namespace: String, reader: DocumentReader) -> TLSRoute? {
        guard let fields = reader.mapping(field, Schema(known: ["match", "route"])) else { return nil }
        let before = reader.isMalformed
        var matches: [TLSMatch] = []
        if let matchField = reader.required("match", in: fields), let entries = reader.list(matchField) {
            if entries.isEmpty { reader.error("\(matchField.path): expected at least one match with sniHosts", at: matchField.node) }
            matches = entries.compactMap { tlsMatch($0, hosts: hosts, namespace: namespace, reader: reader) }
        }
        var destinations: [WeightedDestination] = []
        if let routeField = reader.required("route", in: fields) {
            destinations = weightedDestinations(routeField, allowEmpty: false, headers: false, reader: reader) ?? []
        }
        // Every field is read before giving up, so one pass reports every problem of the route.
        return reader.isMalformed && !before ? nil : TLSRoute(matches: matches, destinations: destinations)
    }

    private static func tlsMatch(_ field: Field, hosts: [String], namespace: String, reader: DocumentReader) -> TLSMatch? {
        let schema = Schema(known: Set(["sniHosts", "port", "gateways", "sourceLabels", "sourceNamespace"] + refusedTLSMatchFields.keys))
        guard let fields = reader.mapping(field, schema) else { return nil }
        refuseUnseenAttributes(of: fields, refusedTLSMatchFields, reader: reader)
        guard let sniField = reader.required("sniHosts", in: fields),
            let sniHosts = reader.list(sniField, each: { entry in reader.string(entry).map { (name: $0, field: entry) } })
        else { return nil }
        if sniHosts.isEmpty { reader.error("\(sniField.path): expected at least one server name", at: sniField.node) }
        let patterns = hosts.map(HostPattern.init)
        for sniHost in sniHosts where !patterns.contains(where: { $0.covers(HostPattern(sniHost.name)) }) {
            reader.unsupported(
                "\(sniHost.field.path): \(sniHost.name) is not covered by the VirtualService's hosts (\(hosts.joined(separator: ", "))); "
                    + "Istio requires every sniHost to be one of them or to match one",
                at: sniHost.field.node
            )
        }
        let gateways = fields["gateways"].flatMap(reader.stringList)?.map { ResourceName(reference: $0, relativeTo: namespace) } ?? []
        return TLSMatch(
            sniHosts: sniHosts.map(\.name), port: fields["port"].flatMap(reader.port), gateways: gateways,
            source: sourceCondition(fields, reader: reader)
        )
    }
}
