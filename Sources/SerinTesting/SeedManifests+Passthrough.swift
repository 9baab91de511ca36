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

    /// A Gateway `web-edge` whose port 443 terminates TLS for `host` with the certificate and key files given: an
    /// HTTPS server to put beside a PASSTHROUGH one on the same port.
    public static func httpsGateway(host: String, certificate: String, key: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: web-edge}
        spec:
          servers:
          - port: {number: 443, name: https, protocol: HTTPS}
            hosts: [\(host)]
            tls: {mode: SIMPLE, serverCertificate: \(certificate), privateKey: \(key)}
        """
    }
}
