import SerinCore

/// The routes that carry connections rather than requests — `tls` by server name, `tcp` by port — and the Gateway
/// servers that serve them: a route no server serves gets no traffic, a TCP server no route serves closes everything.
extension ManifestValidator {
    /// One match of a `tls` or `tcp` route, as binding sees it: where it is written, its port and gateways.
    private struct L4Binding {
        let path: String
        let port: Int?
        let gateways: [ResourceName]
    }

    /// A VirtualService's `tls` routes are served by PASSTHROUGH Gateway servers, its `tcp` routes by TCP servers,
    /// and either, bound to the mesh, by the mesh's listener for a port of the services its hosts name: each match
    /// must reach one (on its port, when it names one) through the gateways it is bound to.
    static func layer4Bindings(
        of virtualService: VirtualService, at located: LocatedResource, context: ValidationContext
    ) -> [Diagnostic] {
        let tls = virtualService.tls.enumerated().flatMap { routeIndex, route in
            route.matches.enumerated().map { L4Binding(path: "spec.tls[\(routeIndex)].match[\($0)]", port: $1.port, gateways: $1.gateways) }
        }
        let tcp = virtualService.tcp.enumerated().flatMap { routeIndex, route in
            route.matches.isEmpty
                ? [L4Binding(path: "spec.tcp[\(routeIndex)]", port: nil, gateways: [])]
                : route.matches.enumerated().map { L4Binding(path: "spec.tcp[\(routeIndex)].match[\($0)]", port: $1.port, gateways: $1.gateways) }
        }
        let meshPorts = virtualService.appliesToMesh ? Set(RouteTable.meshTCPPorts(of: virtualService, in: context.config)) : []
        let meshTLSPorts = virtualService.appliesToMesh ? Set(RouteTable.meshTLSPorts(of: virtualService, in: context.config)) : []
        return tls.flatMap {
            bindings(
                $0, of: virtualService, serving: \.passesThrough, at: located, context: context,
                missing: "PASSTHROUGH server",
                why: "tls routes are served by Gateway servers with tls.mode PASSTHROUGH, and in the mesh on the ports of the services "
                    + "the VirtualService's hosts name (or the ports its matches name, when they name no known service)",
                meshServes: { port in port.map(meshTLSPorts.contains) ?? !meshTLSPorts.isEmpty }
            )
        }
            + tcp.flatMap {
                bindings(
                    $0, of: virtualService, serving: \.forwardsTCP, at: located, context: context,
                    missing: "TCP server",
                    why: "tcp routes are served by Gateway servers with port.protocol TCP, and in the mesh on the ports of the services "
                        + "the VirtualService's hosts name (or the ports its matches name, when they name no known service)",
                    meshServes: { port in port.map(meshPorts.contains) ?? !meshPorts.isEmpty }
                )
            }
    }

    private static func bindings(
        _ binding: L4Binding, of virtualService: VirtualService, serving serves: (Gateway.Server) -> Bool, at located: LocatedResource,
        context: ValidationContext, missing server: String, why: String, meshServes: (Int?) -> Bool = { _ in false }
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let names = binding.gateways.isEmpty ? virtualService.gateways : binding.gateways
        let missing = names.filter { context.gateways[$0] == nil && $0.name != ManifestDecoder.meshGateway }
        if !binding.gateways.isEmpty {
            let locations = located.entryLocations(of: "\(binding.path).gateways")
            for name in missing {
                let index = binding.gateways.firstIndex(of: name) ?? 0
                let location = index < locations.count ? locations[index] : located.location(of: "\(binding.path).gateways")
                diagnostics.append(.error(missingGateway(name, context: context), at: location))
            }
        }
        let servers = names.compactMap { context.gateways[$0] }.flatMap(\.servers).filter {
            serves($0) && (binding.port == nil || $0.port == binding.port)
        }
        let inMesh = names.isEmpty || names.contains { $0.name == ManifestDecoder.meshGateway }
        guard servers.isEmpty, missing.count < names.count || names.isEmpty, !(inMesh && meshServes(binding.port)) else { return diagnostics }
        let on = binding.port.map { " on port \($0)" } ?? ""
        let bound = names.isEmpty ? "the mesh only" : names.map(\.description).joined(separator: ", ")
        let section = binding.path.hasPrefix("spec.tls") ? "tls" : "tcp"
        diagnostics.append(
            .error(
                "\(binding.path): no \(server)\(on) in \(bound), so this \(section) route gets no traffic: \(why)",
                at: located.location(of: binding.path)
            )
        )
        return diagnostics
    }

    /// A TCP server that no bound VirtualService's tcp route serves: its connections are closed.
    static func unroutedTCPServers(in resources: [LocatedResource], context: ValidationContext) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for located in resources {
            guard case .gateway(let gateway) = located.resource else { continue }
            for (serverIndex, server) in gateway.servers.enumerated() where server.forwardsTCP {
                let served = context.virtualServices.values.contains { virtualService in
                    virtualService.tcp.contains { route in
                        let matches = route.matches.isEmpty ? [L4Match()] : route.matches
                        return matches.contains { match in
                            (match.gateways.isEmpty ? virtualService.gateways : match.gateways).contains(gateway.name)
                                && (match.port == nil || match.port == server.port)
                        }
                    }
                }
                guard !served else { continue }
                diagnostics.append(
                    .warning(
                        "TCP server port \(server.port) has no tcp route: no VirtualService bound to \(gateway.name) has a tcp "
                            + "route for port \(server.port), so its connections are closed",
                        at: located.location(of: "spec.servers[\(serverIndex)].port")
                    )
                )
            }
        }
        return diagnostics
    }
}
