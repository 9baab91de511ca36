import AsyncHTTPClient
import NIOSSL
import SerinCore
import SerinPrometheus
import SerinTesting
import Testing

/// A Prometheus behind credentials, and behind TLS: what a MetricTemplate's `secretRef` and an `https://`
/// address are for.
@Suite("PrometheusClient with credentials and https")
struct PrometheusCredentialsTests {
    @Test(
        "signs every query in with the template's credentials and keeps one connection for them",
        arguments: [
            (ProviderCredentials.Authorization.bearer(token: "s3cret"), "Bearer s3cret"),
            (.basic(username: "grafana", password: "pa:ss"), "Basic Z3JhZmFuYTpwYTpzcw=="),
        ]
    )
    func signsIn(authorization: ProviderCredentials.Authorization, header: String) async throws {
        let prometheus = try await GuardedPrometheus.start(authorization: header, value: "0.5")
        let client = PrometheusClient(address: prometheus.address, credentials: ProviderCredentials(authorization: authorization))
        #expect(await client.query("vector(0.5)") == .value(0.5))
        #expect(await client.query("vector(0.5)") == .value(0.5))
        await prometheus.close()
        #expect(prometheus.requests.map(\.authorization) == [header, header])
        #expect(prometheus.connections == 1)
    }

    @Test("reports a refusal of its credentials once, with Prometheus' answer and the status, never retried")
    func wrongCredentials() async throws {
        let prometheus = try await GuardedPrometheus.start(authorization: "Bearer right")
        let client = PrometheusClient(address: prometheus.address, credentials: ProviderCredentials(authorization: .bearer(token: "wrong")))
        let result = await client.query("up")
        await prometheus.close()
        #expect(result == .failed("Prometheus at \(prometheus.address) rejected query up: unauthorized: credentials required (HTTP 401)"))
        #expect(prometheus.requests.count == 1)
    }

    @Test("queries over https under a path prefix, trusting the server's certificate")
    func https() async throws {
        let prometheus = try await GuardedPrometheus.start(authorization: "Bearer tls", value: "7", tls: true)
        var configuration = PrometheusClient.httpConfiguration
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(prometheus.certificatePEM).utf8)))
        configuration.tlsConfiguration = tls
        let result = try await HTTPClient.withHTTPClient(configuration: configuration) { http in
            await PrometheusClient(address: prometheus.address + "/prometheus/", credentials: .init(authorization: .bearer(token: "tls")), http: http)
                .query("vector(7)")
        }
        await prometheus.close()
        #expect(result == .value(7))
        #expect(prometheus.requests.map(\.uri) == ["/prometheus/api/v1/query?query=vector%287%29"])
    }

    @Test("fails an https query whose certificate it does not trust, saying so")
    func untrustedCertificate() async throws {
        let prometheus = try await GuardedPrometheus.start(authorization: "Bearer tls", tls: true)
        let result = await PrometheusClient(address: prometheus.address, attempts: 1).query("vector(1)")
        await prometheus.close()
        guard case .failed(let reason) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(reason.hasPrefix("Prometheus at https://127.0.0.1:\(prometheus.port) unreachable after 1 attempt: "), "\(reason)")
        #expect(reason.contains("certificate") || reason.contains("handshake") || reason.contains("Certificate"), "\(reason)")
        #expect(prometheus.requests.isEmpty)
    }
}
