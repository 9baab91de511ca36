import SerinCore
import Yams

extension ManifestDecoder {
    /// Istio's reserved gateway name for the sidecars of the mesh; Serin's gateway never serves it.
    static let meshGateway = "mesh"

    /// HTTP route features Istio has and the embedded gateway does not apply yet.
    static let httpRouteNotApplied: Set<String> = [
        "redirect", "rewrite", "retries", "timeout", "fault", "mirror", "mirrors", "mirrorPercentage",
        "mirrorPercent", "mirror_percent", "headers", "directResponse", "corsPolicy", "delegate",
    ]

    static func virtualService(_ spec: Field, name: ResourceName, reader: DocumentReader) -> VirtualService? {
        let schema = Schema(known: ["hosts", "gateways", "http", "tcp", "tls"], ignored: ["exportTo"])
        guard let fields = reader.mapping(spec, schema),
            let hostsField = reader.required("hosts", in: fields),
            let hosts = reader.stringList(hostsField)
        else { return nil }
        for key in ["tcp", "tls"] {
            guard let field = fields[key] else { continue }
            reader.unsupported(
                "\(field.path): \(key.uppercased()) routes are not supported: the embedded gateway routes HTTP only",
                at: field.node
            )
        }
        var gateways: [ResourceName] = []
        if let gatewaysField = fields["gateways"], let references = reader.stringList(gatewaysField) {
            gateways = references.filter { $0 != meshGateway }.map {
                ResourceName(reference: $0, relativeTo: name.namespace)
            }
            // Entry locations stay one-to-one with `gateways`, so validation can point at each reference.
            for (index, reference) in references.enumerated() where reference == meshGateway {
                reader.forgetLocation(of: gatewaysField.path + "[\(index)]")
            }
        }
        var routes: [HTTPRoute] = []
        if let httpField = fields["http"] {
            guard let entries = reader.list(httpField) else { return nil }
            routes = entries.compactMap { httpRoute($0, namespace: name.namespace, reader: reader) }
            guard routes.count == entries.count else { return nil }
        } else if fields["tcp"] == nil && fields["tls"] == nil {
            reader.error("spec.http is required", at: spec.node)
            return nil
        }
        return VirtualService(name: name, hosts: hosts, gateways: gateways, http: routes)
    }

    private static func httpRoute(_ field: Field, namespace: String, reader: DocumentReader) -> HTTPRoute? {
        let schema = Schema(known: ["name", "match", "route"], notApplied: httpRouteNotApplied)
        guard let fields = reader.mapping(field, schema) else { return nil }
        let name = fields["name"].flatMap(reader.string)
        var matches: [RequestMatch] = []
        if let matchField = fields["match"] {
            guard let entries = reader.list(matchField) else { return nil }
            matches = entries.compactMap { requestMatch($0, namespace: namespace, reader: reader) }
            guard matches.count == entries.count else { return nil }
        }
        guard let routeField = fields["route"] else {
            // A redirect or direct response stands in for a route in Istio; it was warned about above.
            let alternatives = ["redirect", "directResponse", "delegate"]
            if let mapping = field.node.mapping, alternatives.contains(where: { mapping[$0] != nil }) {
                return HTTPRoute(name: name, matches: matches, destinations: [])
            }
            reader.error("\(field.path(of: "route")) is required", at: field.node)
            return nil
        }
        guard let entries = reader.list(routeField) else { return nil }
        guard !entries.isEmpty else {
            reader.error("\(routeField.path): expected at least one destination", at: routeField.node)
            return nil
        }
        let destinations = entries.compactMap { weightedDestination($0, reader: reader) }
        guard destinations.count == entries.count else { return nil }
        // Istio: a lone destination takes all traffic; among several, an unset weight is 0.
        let defaulted = destinations.map { destination, weight in
            WeightedDestination(destination: destination, weight: weight ?? (entries.count == 1 ? 100 : 0))
        }
        return HTTPRoute(name: name, matches: matches, destinations: defaulted)
    }

    private static func weightedDestination(_ field: Field, reader: DocumentReader) -> (Destination, Int?)? {
        let schema = Schema(known: ["destination", "weight"], notApplied: ["headers"])
        guard let fields = reader.mapping(field, schema),
            let destinationField = reader.required("destination", in: fields),
            let destination = reader.mapping(destinationField, Schema(known: ["host", "subset", "port"])),
            let hostField = reader.required("host", in: destination),
            let host = reader.string(hostField)
        else { return nil }
        var port: Int?
        if let portField = destination["port"] {
            guard let selector = reader.mapping(portField, Schema(known: ["number"])),
                let numberField = reader.required("number", in: selector),
                let number = reader.port(numberField)
            else { return nil }
            port = number
        }
        let subset = destination["subset"].flatMap(reader.string)
        var weight: Int?
        if let weightField = fields["weight"] {
            guard let value = reader.int(weightField) else { return nil }
            weight = value
        }
        return (Destination(host: host, subset: subset, port: port), weight)
    }

    private static func requestMatch(_ field: Field, namespace: String, reader: DocumentReader) -> RequestMatch? {
        let schema = Schema(
            known: [
                "name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams",
                "ignoreUriCase", "gateways", "port",
            ],
            notApplied: ["sourceLabels", "sourceNamespace", "statPrefix"]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        let before = reader.isMalformed
        var match = RequestMatch()
        match.name = fields["name"].flatMap(reader.string)
        match.uri = fields["uri"].flatMap { stringMatch($0, place: .attribute, reader: reader) }
        match.scheme = fields["scheme"].flatMap { stringMatch($0, place: .attribute, reader: reader) }
        match.method = fields["method"].flatMap { stringMatch($0, place: .attribute, reader: reader) }
        match.authority = fields["authority"].flatMap { stringMatch($0, place: .attribute, reader: reader) }
        match.headers = fields["headers"].flatMap { stringMatchMap($0, place: .header, reader: reader) } ?? [:]
        match.withoutHeaders = fields["withoutHeaders"].flatMap { stringMatchMap($0, place: .header, reader: reader) } ?? [:]
        match.queryParams = fields["queryParams"].flatMap { stringMatchMap($0, place: .queryParam, reader: reader) } ?? [:]
        match.ignoreUriCase = fields["ignoreUriCase"].flatMap(reader.bool) ?? false
        // `mesh` stays in a match's gateways: it never admits a request at Serin's gateway, which is
        // right for a match meant only for sidecars (dropping it would widen the match to every gateway).
        match.gateways = fields["gateways"].flatMap(reader.stringList)?.map {
            ResourceName(reference: $0, relativeTo: namespace)
        } ?? []
        match.port = fields["port"].flatMap(reader.port)
        return reader.isMalformed && !before ? nil : match
    }
}
