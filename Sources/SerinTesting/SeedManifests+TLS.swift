import Foundation
import SerinManifests

extension SeedManifests {
    /// The seed's sources with its Gateway's port 80 HTTP server turned into a port 443 HTTPS server presenting
    /// `certificate` (paths to PEM files): the demo backends stay HTTP, the gateway terminates TLS.
    public static func overHTTPS(_ sources: [ManifestSource], certificate: TestCertificates.Pair) -> [ManifestSource] {
        let plaintext = """
                  number: 80
                  name: http
                  protocol: HTTP
                hosts:
                - "*"
            """
        let https = """
                  number: 443
                  name: https
                  protocol: HTTPS
                hosts:
                - "*"
                tls:
                  mode: SIMPLE
                  serverCertificate: \(certificate.certificate)
                  privateKey: \(certificate.key)
            """
        let rewritten = sources.map { source in
            var source = source
            source.text = source.text.replacingOccurrences(of: plaintext, with: https)
            return source
        }
        precondition(rewritten.contains { $0.text.contains("protocol: HTTPS") }, "the seed's Gateway no longer has the port 80 server this rewrites")
        return rewritten
    }
}
