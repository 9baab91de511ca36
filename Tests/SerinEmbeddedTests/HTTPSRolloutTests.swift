import NIOSSL
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinCore
import SerinTesting
import Testing

/// The seed's gateway as an HTTPS server (port 443, SIMPLE, a certificate from a test CA): what the steady load
/// reaches over TLS while the demo backends stay plain HTTP.
struct HTTPSGateway {
    let certificate: TestCertificates.Pair
    /// The load's client: trusts the test CA; it connects to 127.0.0.1, which the certificate does not name.
    let client: TLSConfiguration

    static func make(_ certificates: TestCertificates) async throws -> HTTPSGateway {
        let pair = try await certificates.server("web", hosts: ["web.example.com"])
        var client = TLSConfiguration.makeClientConfiguration()
        client.trustRoots = .file(certificates.ca.certificate)
        client.certificateVerification = .noHostnameVerification
        return HTTPSGateway(certificate: pair, client: client)
    }
}

/// A canary release behind a gateway that terminates TLS, end to end.
@Suite(
    "Canary over HTTPS", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"), .timeLimit(.minutes(2))
)
struct HTTPSRolloutTests {
    @Test("a healthy canary behind an HTTPS gateway is promoted, its traffic all over TLS, none failed by Serin")
    func promotesOverHTTPS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let https = try await HTTPSGateway.make(certificates)
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(), https: https) { harness in
            #expect(harness.runtime.gateway.boundPort(forDeclared: 80) == nil)
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.promoted == true && final.weightsLabel == "100/0", "the promoted canary is the stable, with all the traffic")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
            #expect(harness.load.counts.counts["v2", default: 0] > 0, "\(harness.load.counts)")
        }
    }
}
