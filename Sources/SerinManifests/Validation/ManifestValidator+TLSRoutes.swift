import SerinCore

extension ManifestValidator {
    /// A PASSTHROUGH server's host that no bound VirtualService's tls route names: connections for it are closed.
    static func unroutedPassthroughHosts(in resources: [LocatedResource], context: ValidationContext) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for located in resources {
            guard case .gateway(let gateway) = located.resource else { continue }
            let sniHosts = context.virtualServices.values.flatMap { virtualService in
                virtualService.tls.flatMap(\.matches).filter { match in
                    (match.gateways.isEmpty ? virtualService.gateways : match.gateways).contains(gateway.name)
                }.flatMap(\.sniHosts).map { (namespace: virtualService.name.namespace, pattern: HostPattern($0)) }
            }
            for (serverIndex, server) in gateway.servers.enumerated() where server.passesThrough {
                for (hostIndex, host) in server.hosts.enumerated() {
                    // `prod/db.example.com` admits only prod's VirtualServices: another namespace's route is not one.
                    let (namespace, pattern) = HostPattern.gatewayServerHost(host)
                    guard !sniHosts.contains(where: { sni in
                        admits(namespace, of: gateway, virtualServicesIn: sni.namespace) && sni.pattern.overlaps(pattern)
                    }) else { continue }
                    let whose = namespace.map { ["*", "."].contains($0) ? "" : " in namespace \($0)" } ?? ""
                    diagnostics.append(
                        .warning(
                            "host \(host) of PASSTHROUGH server port \(server.port) has no tls route: no VirtualService\(whose) bound to "
                                + "\(gateway.name) names it in sniHosts, so its connections are closed",
                            at: located.location(of: "spec.servers[\(serverIndex)].hosts[\(hostIndex)]")
                        )
                    )
                }
            }
        }
        return diagnostics
    }

    /// An HTTPS server's host that a PASSTHROUGH server on the same port also lists: the ClientHello naming it is
    /// passed through, so the HTTPS server never terminates it.
    static func shadowedHTTPSHosts(in resources: [LocatedResource]) -> [Diagnostic] {
        var passthroughHosts: [Int: [(pattern: HostPattern, label: String)]] = [:]
        for located in resources {
            guard case .gateway(let gateway) = located.resource else { continue }
            for (index, server) in gateway.servers.enumerated() where server.passesThrough {
                let label = "\(located.label) spec.servers[\(index)]"
                passthroughHosts[server.port, default: []] += server.hosts.map { (HostPattern.gatewayServerHost($0).pattern, label) }
            }
        }
        var diagnostics: [Diagnostic] = []
        for located in resources {
            guard case .gateway(let gateway) = located.resource else { continue }
            for (serverIndex, server) in gateway.servers.enumerated() where server.terminatesTLS {
                for (hostIndex, host) in server.hosts.enumerated() {
                    let pattern = HostPattern.gatewayServerHost(host).pattern
                    guard let shadow = passthroughHosts[server.port]?.first(where: { $0.pattern.covers(pattern) }) else { continue }
                    diagnostics.append(
                        .warning(
                            "host \(host) is also listed by the PASSTHROUGH server \(shadow.label) on port \(server.port): "
                                + "connections naming it are passed through, never terminated by this HTTPS server",
                            at: located.location(of: "spec.servers[\(serverIndex)].hosts[\(hostIndex)]")
                        )
                    )
                }
            }
        }
        return diagnostics
    }
}
