import SerinCore

/// A VirtualService's `tcp` list (Istio's TCPRoute): which gateway ports' plain TCP goes to which weighted destinations.
extension ManifestDecoder {
    /// L4MatchAttributes the gateway cannot see, each with why: refused, since ignoring one would send connections
    /// the user meant to keep out.
    static let refusedL4MatchFields: [String: String] = [
        "destinationSubnets": "the gateway routes by port only; it does not know where a connection was headed",
    ]

    static func tcpRoutes(_ field: Field, namespace: String, reader: DocumentReader) -> [TCPRoute]? {
        reader.list(field) { tcpRoute($0, namespace: namespace, reader: reader) }
    }

    private static func tcpRoute(_ field: Field, namespace: String, reader: DocumentReader) -> TCPRoute? {
        guard let fields = reader.mapping(field, Schema(known: ["match", "route"])) else { return nil }
        let before = reader.isMalformed
        let matches = fields["match"].flatMap { reader.list($0) { l4Match($0, namespace: namespace, reader: reader) } } ?? []
        var destinations: [WeightedDestination] = []
        if let routeField = reader.required("route", in: fields) {
            destinations = weightedDestinations(routeField, allowEmpty: false, headers: false, reader: reader) ?? []
        }
        // Every field is read before giving up, so one pass reports every problem of the route.
        return reader.isMalformed && !before ? nil : TCPRoute(matches: matches, destinations: destinations)
    }

    private static func l4Match(_ field: Field, namespace: String, reader: DocumentReader) -> L4Match? {
        let schema = Schema(known: Set(["port", "gateways", "sourceLabels", "sourceNamespace"] + refusedL4MatchFields.keys))
        guard let fields = reader.mapping(field, schema) else { return nil }
        refuseUnseenAttributes(of: fields, refusedL4MatchFields, reader: reader)
        let gateways = fields["gateways"].flatMap(reader.stringList)?.map { ResourceName(reference: $0, relativeTo: namespace) } ?? []
        return L4Match(port: fields["port"].flatMap(reader.port), gateways: gateways, source: sourceCondition(fields, reader: reader))
    }

    /// Reports each match attribute in `refused` that `fields` sets, with why the gateway cannot apply it.
    static func refuseUnseenAttributes(of fields: Fields, _ refused: [String: String], reader: DocumentReader) {
        for (key, why) in refused.sorted(by: { $0.key < $1.key }) {
            guard let field = fields[key] else { continue }
            reader.unsupported("\(field.path) is not supported by the embedded gateway: \(why)", at: field.node)
        }
    }
}
