import SerinCore

extension ManifestValidator {
    /// Every HTTPS server's `credentialName` must name a Secret given with `-f` that holds a certificate and key
    /// (and CA certificates for MUTUAL), and a port serves TLS (HTTPS or PASSTHROUGH servers, told apart by the
    /// ClientHello's server name) or plaintext, not both; a TCP server's port is its own.
    static func serverTLS(in resources: [LocatedResource], context: ValidationContext) -> [Diagnostic] {
        let lookup = TLSSecretLookup(secrets: resources.secrets)
        var diagnostics: [Diagnostic] = []
        /// Each port's first server: its kind, label and protocol.
        var portKinds: [Int: (kind: String, label: String, protocol: String)] = [:]
        /// The HTTPS servers' hosts by port, each with the first server that lists it.
        var certificateHosts: [Int: [String: String]] = [:]
        for located in resources {
            guard case .gateway(let gateway) = located.resource else { continue }
            for (index, server) in gateway.servers.enumerated() {
                let path = "spec.servers[\(index)]"
                if let tls = server.tls, case .secret(let name, _) = tls.credential,
                    case .failure(let problem) = lookup.material(named: name, namespace: gateway.name.namespace, mode: tls.mode)
                {
                    // A Secret in the files whose errors kept it from being read is that, not missing.
                    let secretName = ResourceName(namespace: gateway.name.namespace, name: name)
                    let message = context.unread(.secret, secretName).map { "Secret \(secretName) is not read: it has errors (the first at \($0))" }
                        ?? problem.message
                    diagnostics.append(.error("\(path).tls.credentialName: \(message)", at: located.location(of: "\(path).tls.credentialName")))
                }
                guard RouteTable.servedProtocols.contains(server.protocol.uppercased()) else { continue }
                // An HTTPS or TLS server whose tls was refused at its field (ISTIO_MUTUAL) is no plaintext server.
                if ["HTTPS", "TLS"].contains(server.protocol.uppercased()) && !server.passesThrough && !server.terminatesTLS { continue }
                let label = "\(located.label) \(path) (\(server.protocol))"
                if server.terminatesTLS {
                    for (hostIndex, host) in server.hosts.enumerated() {
                        let name = HostPattern.gatewayServerHost(host).1.text.lowercased()
                        if let first = certificateHosts[server.port]?[name] {
                            diagnostics.append(
                                .warning(
                                    "\(path).hosts[\(hostIndex)]: \(name) is a host of \(first) on port \(server.port) too, whose certificate and "
                                        + "client check a ClientHello naming it gets: this server's are never used for it",
                                    at: located.location(of: "\(path).hosts[\(hostIndex)]")
                                )
                            )
                        } else {
                            certificateHosts[server.port, default: [:]][name] = label
                        }
                    }
                }
                let kind =
                    server.forwardsTCP
                    ? Self.tcpKind : server.passesThrough ? "passes TLS through" : server.terminatesTLS ? "terminates TLS" : "serves plaintext"
                if let earlier = portKinds[server.port], let why = portClash(earlier.kind, kind) {
                    diagnostics.append(
                        .error(
                            "\(path).port.protocol: port \(server.port) is served by \(earlier.label) already, which "
                                + "\(earlier.kind); this server \(kind). \(why)",
                            at: located.location(of: "\(path).port.protocol")
                        )
                    )
                } else if portKinds[server.port] == nil {
                    portKinds[server.port] = (kind, label, server.protocol.uppercased())
                } else if let first = portKinds[server.port], kind == "serves plaintext",
                    (first.protocol == "GRPC-WEB") != (server.protocol.uppercased() == "GRPC-WEB")
                {
                    let effect = first.protocol == "GRPC-WEB" ? "translates gRPC-Web for this server's hosts too" : "translates no gRPC-Web, this server's neither"
                    diagnostics.append(
                        .warning(
                            "\(path).port.protocol: port \(server.port) is served by \(first.label) first, and a port's "
                                + "servers share the first one's protocol, as Istio merges them: the port \(effect)",
                            at: located.location(of: "\(path).port.protocol")
                        )
                    )
                }
            }
        }
        return diagnostics
    }

    private static let tcpKind = "forwards plain TCP"

    /// Why servers of these two kinds cannot share a port, or nil when they can.
    private static func portClash(_ earlier: String, _ kind: String) -> String? {
        if earlier != kind && (earlier == tcpKind || kind == tcpKind) {
            return "A TCP server forwards every connection on its port without reading a byte of it, so it needs a port "
                + "no HTTP, HTTPS or TLS server uses"
        }
        if (earlier == "serves plaintext") != (kind == "serves plaintext") {
            return "A port serves TLS or plaintext, so plaintext servers and HTTPS or PASSTHROUGH servers need different ports"
        }
        return nil
    }
}
