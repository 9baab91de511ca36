import SerinCore

extension ManifestValidator {
    /// Weights, and that every destination, the mirrors' included, reaches a service port (and subset) that exists.
    static func routes(
        of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext,
        warnedWithoutEndpoints: inout Set<ResourceName>
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        // An HTTP request arrives on one of these ports: a destination without a port takes it, as Istio resolves it.
        let gatewayPorts = virtualService.gateways.flatMap { name in
            (context.gateways[name]?.servers ?? []).filter { !$0.passesThrough && !$0.forwardsTCP }.map { (gateway: name, port: $0.port) }
        }
        let namespace = virtualService.name.namespace
        for (routeIndex, route) in virtualService.http.enumerated() {
            diagnostics += weightedDestinations(
                route.destinations, routePath: "spec.http[\(routeIndex)].route", at: located, context: context, namespace: namespace,
                requestPorts: gatewayPorts, warnedWithoutEndpoints: &warnedWithoutEndpoints
            )
            let mirrors = route.mirror.map { [("spec.http[\(routeIndex)].mirror", $0)] } ?? []
            let listed = route.mirrors.enumerated().map { ("spec.http[\(routeIndex)].mirrors[\($0)].destination", $1) }
            for (path, mirror) in mirrors + listed {
                diagnostics += destination(
                    mirror.destination, path: path, portPath: "\(path).port.number", at: located, context: context,
                    namespace: namespace, requestPorts: gatewayPorts, warnedWithoutEndpoints: &warnedWithoutEndpoints
                )
            }
        }
        diagnostics += meshMatchPorts(of: virtualService, at: located, context: context)
        diagnostics += gatewaySourceMatches(of: virtualService, at: located, context: context)
        diagnostics += opaqueMeshPorts(of: virtualService, at: located, context: context)
        let layer4 = virtualService.tls.enumerated().map { ("tls", $0, $1.destinations) }
            + virtualService.tcp.enumerated().map { ("tcp", $0, $1.destinations) }
        for (section, routeIndex, destinations) in layer4 {
            diagnostics += weightedDestinations(
                destinations, routePath: "spec.\(section)[\(routeIndex)].route", at: located, context: context,
                namespace: namespace, warnedWithoutEndpoints: &warnedWithoutEndpoints
            )
        }
        return diagnostics
    }

    /// In the mesh a match's `port` is a port of the service the host names: a VirtualService for the mesh alone whose
    /// match names a port none of its hosts' services has would never see that match apply.
    private static func meshMatchPorts(of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext) -> [Diagnostic] {
        guard virtualService.gateways.isEmpty else { return [] }
        let services = virtualService.hosts.compactMap { context.config.service(forHost: $0) }
        guard !services.isEmpty else { return [] }
        let ports = Set(services.flatMap { $0.ports.map(\.number) })
        var diagnostics: [Diagnostic] = []
        for (routeIndex, route) in virtualService.http.enumerated() {
            for (matchIndex, match) in route.matches.enumerated() {
                guard let port = match.port, !ports.contains(port) else { continue }
                let path = "spec.http[\(routeIndex)].match[\(matchIndex)].port"
                diagnostics.append(
                    .warning(
                        "\(path): no service of this VirtualService's hosts has port \(port) (ports: "
                            + "\(ports.sorted().map(String.init).joined(separator: ", "))), so in the mesh this match never applies",
                        at: located.location(of: path)
                    )
                )
            }
        }
        return diagnostics
    }

    /// A match naming source workloads (`sourceLabels`, `sourceNamespace`) applies at a Gateway only when the gateway
    /// itself is that workload (`MeshConfig.workload(of:)`): in a VirtualService bound to Gateways alone, one that names
    /// no workload of theirs never applies. (In the mesh it depends on `--mesh-labels`, which validation does not see.)
    private static func gatewaySourceMatches(
        of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext
    ) -> [Diagnostic] {
        guard !virtualService.appliesToMesh else { return [] }
        let config = context.config
        let bound = virtualService.gateways.filter { config.workload(of: $0) != nil }
        guard !bound.isEmpty else { return [] }
        let sections: [(String, [[(source: SourceCondition?, gateways: [ResourceName])]])] = [
            ("http", virtualService.http.map { $0.matches.map { ($0.source, $0.gateways) } }),
            ("tls", virtualService.tls.map { $0.matches.map { ($0.source, $0.gateways) } }),
            ("tcp", virtualService.tcp.map { $0.matches.map { ($0.source, $0.gateways) } }),
        ]
        let workloads = bound.map { name -> String in
            let workload = config.workload(of: name) ?? SourceWorkload()
            let labels = workload.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            return "\(name.displayName) (\(labels.isEmpty ? "no selector" : labels) in \(workload.namespace))"
        }
        var diagnostics: [Diagnostic] = []
        for (section, routes) in sections {
            for (routeIndex, matches) in routes.enumerated() {
                for (matchIndex, match) in matches.enumerated() {
                    guard let source = match.source, match.gateways.isEmpty,
                        !bound.contains(where: { config.workload(of: $0)?.isNamed(by: source) ?? false })
                    else { continue }
                    let path = "spec.\(section)[\(routeIndex)].match[\(matchIndex)].\(source.labels.isEmpty ? "sourceNamespace" : "sourceLabels")"
                    diagnostics.append(
                        .warning(
                            "\(path): at a gateway the source workload is the gateway itself, and none this VirtualService is bound to "
                                + "is the one named — \(workloads.joined(separator: ", ")) — so this match never applies; for requests "
                                + "between services, bind the VirtualService to the mesh (no gateways, or mesh listed)",
                            at: located.location(of: path)
                        )
                    )
                }
            }
        }
        return diagnostics
    }

    /// A VirtualService for the mesh alone whose hosts name services with no HTTP port: the mesh carries those ports
    /// as TCP or TLS (`ServicePort.opaque`), so its http routes would serve no request there, as Istio's sidecars
    /// ignore them too.
    private static func opaqueMeshPorts(of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext) -> [Diagnostic] {
        guard virtualService.gateways.isEmpty, !virtualService.http.isEmpty else { return [] }
        let services = virtualService.hosts.map(HostPattern.init).flatMap(context.config.services(namedBy:))
        let ports = services.flatMap(\.ports)
        guard !ports.isEmpty, ports.allSatisfy({ $0.opaque != nil }) else { return [] }
        let listed = ports.map { "\($0.number) (\($0.name ?? "unnamed"): \($0.opaque?.rawValue ?? ""))" }.joined(separator: ", ")
        return [
            .warning(
                "spec.http: the services this VirtualService's hosts name have no HTTP port — \(listed) — and the mesh carries such ports "
                    + "as TCP or TLS without reading them, so these http routes serve no request in the mesh (Istio's sidecars ignore "
                    + "them too): name the port http-… (or set appProtocol: http), or route it with tcp or tls routes",
                at: located.location(of: "spec.http")
            )
        ]
    }

    /// One route's `route` list, at `routePath`: weights of 0 or more, relative as Istio's (each destination takes its
    /// weight over their sum; since Istio 1.15 they need not add to 100), some above 0 among several, and each
    /// destination reaching a service port that exists. HTTP, TLS and TCP routes weigh alike.
    private static func weightedDestinations(
        _ destinations: [WeightedDestination], routePath: String, at located: LocatedResource, context: ValidationContext,
        namespace: String, requestPorts: [(gateway: ResourceName, port: Int)]? = nil, warnedWithoutEndpoints: inout Set<ResourceName>
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for (index, weighted) in destinations.enumerated() {
            let path = "\(routePath)[\(index)]"
            if weighted.weight < 0 {
                diagnostics.append(
                    .error(
                        "\(path).weight: expected a weight of 0 or more, got \(weighted.weight)",
                        at: located.location(of: "\(path).weight")
                    )
                )
            }
            diagnostics += destination(
                weighted.destination, path: "\(path).destination", portPath: "\(path).destination.port.number",
                at: located, context: context, namespace: namespace, requestPorts: requestPorts,
                warnedWithoutEndpoints: &warnedWithoutEndpoints
            )
        }
        if destinations.count > 1, destinations.allSatisfy({ $0.weight <= 0 }) {
            diagnostics.append(
                .error(
                    "weights sum to 0: among several destinations, some need a weight above 0 (each takes its weight over the sum)",
                    at: located.location(of: routePath)
                )
            )
        }
        return diagnostics
    }

    /// That `destination`, written at `path` (its port number at `portPath`), reaches a service, subset and
    /// port that exist. Shared by routes and Canaries, so both resolve hosts the way the gateway does.
    /// `requestPorts`: for an HTTP route, the Gateway ports its requests arrive on (none but the mesh's own: an empty
    /// list): a destination without a port, of a service with several, takes the request's port, as Istio resolves it,
    /// and a Gateway port the service does not expose is warned of. Nil: the port must be written (a TCP or TLS
    /// route's, a Canary's). `namespace`: the writing resource's, where a bare host is looked up first, as the gateway does.
    static func destination(
        _ destination: Destination, path: String, portPath: String, at located: some FieldLocated,
        context: ValidationContext, namespace: String, requestPorts: [(gateway: ResourceName, port: Int)]? = nil,
        warnedWithoutEndpoints: inout Set<ResourceName>
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let hostLocation = located.location(of: "\(path).host")
        if let subset = destination.subset, context.config.subset(named: subset, ofHost: destination.host, from: namespace) == nil {
            diagnostics.append(
                .error(
                    "\(path).subset: subset \(subset) of \(destination.host) is not defined by any DestinationRule for that host",
                    at: located.location(of: "\(path).subset")
                )
            )
        }
        guard let service = context.config.service(forHost: destination.host, from: namespace) else {
            let elsewhere = context.config.services(bareHost: destination.host, outside: namespace)
            if !elsewhere.isEmpty {
                let names = elsewhere.map { "\($0.name.name).\($0.name.namespace)" }.joined(separator: " or ")
                diagnostics.append(
                    .error(
                        "\(path).host: \(destination.host) in namespace \(namespace) names "
                            + "\(destination.host).\(namespace).svc.cluster.local, which no Service or ServiceEntry declares; "
                            + "a Service of another namespace is named with its namespace: \(names)",
                        at: hostLocation
                    )
                )
                return diagnostics
            }
            // A slip of a known host's name says which it is closest to.
            let guess = Spelling.suggestion(for: destination.host, among: context.config.services.flatMap(\.hosts))
                .map { " (did you mean \($0)?)" } ?? ""
            diagnostics.append(
                .error(
                    "\(path).host: \(destination.host) does not resolve to a Service or ServiceEntry\(guess)", at: hostLocation
                )
            )
            return diagnostics
        }
        let exposed = service.ports.map { String($0.number) }.joined(separator: ", ")
        if let port = destination.port {
            if RouteTable.port(port, of: service) == nil {
                diagnostics.append(
                    .error(
                        "\(portPath): port \(port) is not exposed by \(destination.host) (it exposes \(exposed.isEmpty ? "no ports" : exposed))",
                        at: located.location(of: portPath)
                    )
                )
            }
        } else if service.ports.count > 1, let requestPorts {
            for (gateway, port) in requestPorts where RouteTable.port(port, of: service) == nil {
                diagnostics.append(
                    .warning(
                        "\(path).port is not written and \(destination.host) exposes several ports (\(exposed)): a request takes the port "
                            + "it arrived on, as Istio routes it, and Gateway \(gateway.displayName)'s port \(port) is none of them, so "
                            + "its requests would be answered 503; write the port",
                        at: located.location(of: path)
                    )
                )
            }
        } else if service.ports.count > 1 {
            diagnostics.append(
                .error(
                    "\(path).port is required: \(destination.host) exposes several ports (\(exposed))",
                    at: located.location(of: path)
                )
            )
        }
        if service.endpoints.isEmpty, warnedWithoutEndpoints.insert(service.name).inserted {
            diagnostics.append(
                .warning(
                    "\(destination.host) has no endpoints in embedded mode: add a ServiceEntry with STATIC endpoints",
                    at: hostLocation
                )
            )
        } else if let subset = destination.subset,
            let labels = context.config.subset(named: subset, ofHost: destination.host, from: namespace)?.labels,
            !service.endpoints.contains(where: { endpoint in labels.allSatisfy { endpoint.labels[$0.key] == $0.value } }),
            warnedWithoutEndpoints.insert(ResourceName(namespace: service.name.namespace, name: "\(service.name.name) subset \(subset)")).inserted
        {
            let selector = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            diagnostics.append(
                .warning(
                    "subset \(subset) of \(destination.host) selects none of its endpoints (labels \(selector)): requests sent to it are answered 503",
                    at: located.location(of: "\(path).subset")
                )
            )
        }
        return diagnostics
    }
}
