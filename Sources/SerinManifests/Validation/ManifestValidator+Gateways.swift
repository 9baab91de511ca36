import SerinCore

extension ManifestValidator {
    /// Gateways a VirtualService names must exist, and must admit its hosts.
    static func gatewayBindings(
        of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        if virtualService.gateways.isEmpty {
            var meshOnly = Diagnostic.warning(
                "\(located.label) is bound to no gateway (only the mesh), so only the mesh listener serves it: "
                    + "run serin up|gateway with --mesh HOST:PORT and reach it through that",
                at: located.location(of: "spec.gateways")
            )
            meshOnly.concernsMeshOnly = true
            diagnostics.append(meshOnly)
            return diagnostics
        }
        let locations = located.entryLocations(of: "spec.gateways")
        var bound: [Gateway] = []
        for (index, name) in virtualService.gateways.enumerated() {
            if let gateway = context.gateways[name] {
                bound.append(gateway)
            } else {
                let location = index < locations.count ? locations[index] : located.location(of: "spec.gateways")
                diagnostics.append(
                    .error(
                        missingGateway(name, context: context),
                        at: location
                    )
                )
            }
        }
        for (routeIndex, route) in virtualService.http.enumerated() {
            for (matchIndex, match) in route.matches.enumerated() {
                let path = "spec.http[\(routeIndex)].match[\(matchIndex)].gateways"
                let matchLocations = located.entryLocations(of: path)
                for (index, name) in match.gateways.enumerated()
                where name.name != ManifestDecoder.meshGateway && context.gateways[name] == nil {
                    let location = index < matchLocations.count ? matchLocations[index] : located.location(of: path)
                    diagnostics.append(
                        .error(
                            missingGateway(name, context: context),
                            at: location
                        )
                    )
                }
            }
        }
        if !bound.isEmpty {
            diagnostics += unadmittedHosts(of: virtualService, at: located, gateways: bound)
        }
        return diagnostics
    }

    /// Whether a Gateway server host's namespace part (`prod/…`, `./…` for the Gateway's own, `*/…` or none for
    /// any) admits the VirtualServices of `namespace`.
    static func admits(_ hostNamespace: String?, of gateway: Gateway, virtualServicesIn namespace: String) -> Bool {
        hostNamespace == nil || hostNamespace == "*" || hostNamespace == namespace
            || (hostNamespace == "." && gateway.name.namespace == namespace)
    }

    /// A host no server of the bound gateways admits gets no traffic from them: Istio ignores it silently.
    private static func unadmittedHosts(
        of virtualService: VirtualService, at located: LocatedResource, gateways: [Gateway]
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for (index, host) in virtualService.hosts.enumerated() {
            let pattern = HostPattern(host)
            let admitted = gateways.contains { gateway in
                gateway.servers.contains { server in
                    server.hosts.contains { serverHost in
                        let (namespace, serverPattern) = HostPattern.gatewayServerHost(serverHost)
                        return admits(namespace, of: gateway, virtualServicesIn: virtualService.name.namespace) && serverPattern.overlaps(pattern)
                    }
                }
            }
            if !admitted {
                let names = gateways.map(\.name.description).joined(separator: ", ")
                diagnostics.append(
                    .warning(
                        "host \(host) is not admitted by any server of gateway \(names), so it gets no traffic there",
                        at: located.location(of: "spec.hosts[\(index)]")
                    )
                )
            }
        }
        return diagnostics
    }
}
