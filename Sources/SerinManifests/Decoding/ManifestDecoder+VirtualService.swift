import SerinCore
import Yams

extension ManifestDecoder {
    /// Istio's reserved gateway name for the sidecars of the mesh; Serin's gateway never serves it.
    static let meshGateway = "mesh"

    /// HTTP route features Istio has and the embedded gateway does not apply yet.
    static let httpRouteNotApplied: Set<String> = ["mirror_percent"]

    /// HTTP route fields Serin decodes: what to match, where to send, and how (`ManifestDecoder+HTTPRoutePolicy`).
    static let httpRouteFields: Set<String> = [
        "name", "match", "route", "timeout", "retries", "fault", "headers", "rewrite", "redirect", "directResponse",
        "mirror", "mirrorPercentage", "mirrorPercent", "mirrors", "delegate", "corsPolicy",
    ]

    /// What a route does instead of forwarding to `route`: the gateway answers the request itself.
    static let httpRouteAnswers = ["redirect", "directResponse"]

    /// `reviews:9080`: a name and a port (an IPv6 address, with colons of its own, is not one).
    static func hostNamesAPort(_ host: String) -> Bool {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[1].isEmpty && parts[1].allSatisfy(\.isNumber)
    }

    /// Istio's `exportTo`, which limits the namespaces whose sidecars and gateways see a resource. Serin shows every
    /// resource everywhere, as `["*"]` (Istio's default) does: any other list is said not to apply, never dropped
    /// without a word.
    static func exportTo(_ field: Field?, of kind: String, reader: DocumentReader) {
        guard let field, let entries = reader.stringList(field) else { return }
        guard entries.contains(where: { $0 != "*" }) else { return }
        reader.warning(
            "\(field.path): not applied: Serin shows every \(kind) to every namespace's sidecars and gateways, as exportTo "
                + "[\"*\"] (Istio's default) does; Istio would limit this one to \(entries.map { "\"\($0)\"" }.joined(separator: ", "))",
            at: field.node
        )
    }

    static func virtualService(_ spec: Field, name: ResourceName, reader: DocumentReader) -> VirtualService? {
        let schema = Schema(known: ["hosts", "gateways", "http", "tcp", "tls", "exportTo"])
        // No hosts: a delegate, whose http routes stand in for another VirtualService's route (validation checks one does).
        guard let fields = reader.mapping(spec, schema), let hostFields = fields["hosts"].map(reader.list) ?? [] else { return nil }
        exportTo(fields["exportTo"], of: "VirtualService", reader: reader)
        let hosts = hostFields.compactMap { reader.string($0) }
        guard hosts.count == hostFields.count else { return nil }
        for (field, host) in zip(hostFields, hosts) where host.contains("*") && !(host == "*" || (host.hasPrefix("*.") && !host.dropFirst().contains("*"))) {
            // As istiod's ValidateWildcardDomain: a wildcard stands for whole labels, first.
            reader.error(
                "\(field.path): a wildcard is the whole first label (*.example.com) or the host alone (*), as Istio requires, got \"\(host)\"",
                at: field.node
            )
        }
        for (field, host) in zip(hostFields, hosts) where hostNamesAPort(host) {
            // Istio refuses it too: a VirtualService host is a name; the port comes from the service or a match.
            reader.error(
                "\(field.path): expected a host name without a port, got \"\(host)\": the routes apply on every port of the "
                    + "host; to route one port only, add `port` to a match",
                at: field.node
            )
        }
        var gateways: [ResourceName] = []
        var appliesToMesh = true
        if let gatewaysField = fields["gateways"], let references = reader.stringList(gatewaysField) {
            gateways = references.filter { $0 != meshGateway }.map {
                ResourceName(reference: $0, relativeTo: name.namespace)
            }
            appliesToMesh = gateways.isEmpty || references.contains(meshGateway)
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
            reader.error("spec.http, spec.tls or spec.tcp is required", at: spec.node)
            return nil
        }
        var tlsRoutes: [TLSRoute] = []
        if let tlsField = fields["tls"] {
            guard let decoded = self.tlsRoutes(tlsField, hosts: hosts, namespace: name.namespace, reader: reader) else { return nil }
            tlsRoutes = decoded
        }
        var tcpRoutes: [TCPRoute] = []
        if let tcpField = fields["tcp"] {
            guard let decoded = self.tcpRoutes(tcpField, namespace: name.namespace, reader: reader) else { return nil }
            tcpRoutes = decoded
        }
        return VirtualService(
            name: name, hosts: hosts, gateways: gateways, appliesToMesh: appliesToMesh, http: routes, tls: tlsRoutes, tcp: tcpRoutes
        )
    }

    private static func httpRoute(_ field: Field, namespace: String, reader: DocumentReader) -> HTTPRoute? {
        guard let fields = reader.mapping(field, Schema(known: httpRouteFields, notApplied: httpRouteNotApplied)) else {
            return nil
        }
        let before = reader.isMalformed
        var route = HTTPRoute(name: fields["name"].flatMap(reader.string), destinations: [])
        if let matchField = fields["match"] {
            route.matches = reader.list(matchField) { requestMatch($0, namespace: namespace, reader: reader) } ?? []
        }
        let answered = httpRouteAnswers.contains { fields[$0] != nil }
        if let routeField = fields["route"] {
            route.destinations = weightedDestinations(routeField, allowEmpty: answered, headers: true, reader: reader) ?? []
        }
        if let delegateField = fields["delegate"] { route.delegate = delegate(delegateField, namespace: namespace, reader: reader) }
        decodePolicies(of: fields, into: &route, reader: reader)
        checkAction(of: route, fields: fields, reader: reader)
        // Every field is read before giving up, so one pass reports every problem of the route.
        return reader.isMalformed && !before ? nil : route
    }

    /// Istio's `delegate: {name, namespace}`: the VirtualService whose routes stand in for this one; the namespace is
    /// the route's own unless written.
    private static func delegate(_ field: Field, namespace: String, reader: DocumentReader) -> ResourceName? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "namespace"])), let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField)
        else { return nil }
        return ResourceName(namespace: fields["namespace"].flatMap(reader.string) ?? namespace, name: name)
    }

    /// `route`: the weighted destinations. Istio: a lone destination takes all traffic; among several, an unset
    /// weight is 0. Empty only beside a redirect or direct response, which Istio reads as no route. `headers`: whether
    /// an entry may carry header changes (an HTTP route's may, a TLS route's has none to change).
    static func weightedDestinations(
        _ field: Field, allowEmpty: Bool, headers: Bool, reader: DocumentReader
    ) -> [WeightedDestination]? {
        guard let entries = reader.list(field) else { return nil }
        guard !entries.isEmpty || allowEmpty else {
            reader.error("\(field.path): expected at least one destination", at: field.node)
            return nil
        }
        let destinations = entries.compactMap { weightedDestination($0, headers: headers, reader: reader) }
        guard destinations.count == entries.count else { return nil }
        return destinations.map { destination, weight, headers in
            WeightedDestination(destination: destination, weight: weight ?? (entries.count == 1 ? 100 : 0), headers: headers)
        }
    }

    /// Istio's rules for what a route does: forward to `route`, or answer with a redirect or a direct response;
    /// never two of these, and an answered request is neither rewritten nor faulted.
    private static func checkAction(of route: HTTPRoute, fields: Fields, reader: DocumentReader) {
        let entry = fields.owner
        let answers = httpRouteAnswers.compactMap { key in fields[key].map { (key: key, field: $0) } }
        if let delegate = fields["delegate"] {
            // Istio: a delegate is set only when route and redirect are empty; its routes say where requests go.
            for other in ["route", "redirect"] where fields[other] != nil {
                reader.error("\(delegate.path) cannot be combined with \(other): the delegate's routes say where its requests go", at: delegate.node)
            }
            return
        }
        guard !answers.isEmpty else {
            if fields["route"] == nil {
                reader.error("\(entry.path): expected route, redirect, directResponse or delegate", at: entry.node)
            }
            return
        }
        for (index, answer) in answers.enumerated() {
            var others = ["fault", "rewrite"] + answers.prefix(index).map(\.key)
            if !route.destinations.isEmpty { others.insert("route", at: 0) }
            for other in others where fields[other] != nil {
                reader.error(
                    "\(answer.field.path) cannot be combined with \(other): Istio rejects a route with both",
                    at: answer.field.node
                )
            }
        }
    }

    /// One `route` entry: its destination, weight, and `headers` (applied when a request goes there).
    private static func weightedDestination(_ field: Field, headers: Bool, reader: DocumentReader) -> (Destination, Int?, RouteHeaders?)? {
        let schema = Schema(known: headers ? ["destination", "weight", "headers"] : ["destination", "weight"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        // Every field is read before the entry is given up on, so one pass says every problem in it.
        let target = reader.required("destination", in: fields).flatMap { Self.destination($0, reader: reader) }
        let weight = fields["weight"].map(reader.int)
        let routeHeaders = fields["headers"].map { Self.headers($0, reader: reader) }
        guard let target, !isUnreadable(weight), !isUnreadable(routeHeaders) else { return nil }
        return (target, weight ?? nil, routeHeaders ?? nil)
    }

    /// Istio's `Destination`: a host, an optional subset, an optional `port: {number}`.
    static func destination(_ field: Field, reader: DocumentReader) -> Destination? {
        guard let destination = reader.mapping(field, Schema(known: ["host", "subset", "port"])) else { return nil }
        let host = reader.required("host", in: destination).flatMap(reader.string)
        let subset = destination["subset"].flatMap(reader.string)
        let number = destination["port"].map { portField in
            reader.mapping(portField, Schema(known: ["number"])).flatMap { reader.required("number", in: $0) }.flatMap(reader.port)
        }
        guard let host, !isUnreadable(number) else { return nil }
        return Destination(host: host, subset: subset, port: number ?? nil)
    }

    /// Whether a field that was written could not be read (`.some(nil)`): present, and wrong.
    private static func isUnreadable<Value>(_ read: Value??) -> Bool {
        if case .some(.none) = read { return true }
        return false
    }

    static func requestMatch(_ field: Field, namespace: String, reader: DocumentReader) -> RequestMatch? {
        let schema = Schema(
            known: [
                "name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams",
                "ignoreUriCase", "gateways", "port", "sourceLabels", "sourceNamespace",
            ],
            notApplied: ["statPrefix"]
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
        match.source = sourceCondition(fields, reader: reader)
        return reader.isMalformed && !before ? nil : match
    }

    /// A match's `sourceLabels` and `sourceNamespace`; nil when neither is written (or the labels are empty and no
    /// namespace is named), which names every workload.
    static func sourceCondition(_ fields: Fields, reader: DocumentReader) -> SourceCondition? {
        let labels = fields["sourceLabels"].flatMap(reader.stringMap) ?? [:]
        let namespace = fields["sourceNamespace"].flatMap(reader.string)
        guard !labels.isEmpty || namespace != nil else { return nil }
        return SourceCondition(labels: labels, namespace: namespace)
    }
}
