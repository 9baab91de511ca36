extension SeedManifests {
    /// A Gateway `edge` whose port 443 passes TLS through for `hosts` (a PASSTHROUGH server, protocol TLS).
    public static func passthroughGateway(hosts: [String]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge}
        spec:
          servers:
          - port: {number: 443, name: tls, protocol: TLS}
            hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
            tls: {mode: PASSTHROUGH}
        """
    }
}
