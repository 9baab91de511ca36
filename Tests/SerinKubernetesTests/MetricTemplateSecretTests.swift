import Foundation
import NIOConcurrencyHelpers
import SerinCore
import SerinKubernetes
import SerinPrometheus
import SerinTesting
import Testing

/// A MetricTemplate's `provider.secretRef` on Kubernetes: the Secret in the template's namespace holds the
/// Prometheus credentials (and perhaps its address), read through the API when a check runs.
@Suite("MetricTemplate credentials from a Secret", .timeLimit(.minutes(2)))
struct MetricTemplateSecretTests {
    static func secret(_ name: String, _ data: [String: String]) -> (JSONValue, KubernetesAPIServer.ObjectKey) {
        let encoded = data.mapValues { JSONValue.string(Data($0.utf8).base64EncodedString()) }
        return (
            ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "default"], "data": .object(encoded)],
            KubernetesAPIServer.ObjectKey(groupVersion: "v1", resource: "secrets", namespace: "default", name: name)
        )
    }

    static let template = MetricTemplateSpec(
        name: ResourceName(namespace: "default", name: "budget"), source: .prometheus(address: "http://prometheus:9090"), query: "vector(1)",
        secretRef: "prom-auth"
    )

    @Test(
        "reads a token, a username and password, and an address from the Secret",
        arguments: [
            (["token": "s3cret"], ProviderCredentials(authorization: .bearer(token: "s3cret"))),
            (["username": "grafana", "password": "pw\n"], ProviderCredentials(authorization: .basic(username: "grafana", password: "pw"))),
            (["address": "https://prom.example", "token": "t"], ProviderCredentials(authorization: .bearer(token: "t"), address: "https://prom.example")),
        ]
    )
    func reads(data: [String: String], expected: ProviderCredentials) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let (secret, key) = Self.secret("prom-auth", data)
            server.put(secret, at: key)
            let templates = ClusterMetricTemplates(api: api, namespace: nil, log: { _ in })
            #expect(await templates.credentials(for: Self.template) == .success(expected))
        }
    }

    @Test(
        "says which Secret or key is missing",
        arguments: [
            (nil, "provider.secretRef: Secret default/prom-auth does not exist"),
            (["username": "grafana"], "provider.secretRef: Secret default/prom-auth has key username but no key password"),
            (["tokn": "x"], "provider.secretRef: Secret default/prom-auth has no key token, username and password, or address (its keys: tokn)"),
            (["token": ""], "provider.secretRef: Secret default/prom-auth key token is empty"),
        ]
    )
    func missing(data: [String: String]?, message: String) async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            if let data {
                let (secret, key) = Self.secret("prom-auth", data)
                server.put(secret, at: key)
            }
            let templates = ClusterMetricTemplates(api: api, namespace: nil, log: { _ in })
            #expect(await templates.credentials(for: Self.template) == .failure(.init(message)))
        }
    }

    @Test("a Canary's custom check queries the Secret's address with its token and is promoted; without the Secret it rolls back saying so")
    func endToEnd() async throws {
        let prometheus = try await GuardedPrometheus.start(authorization: "Bearer s3cret", value: "1")
        defer { Task { await prometheus.close() } }
        for secretExists in [true, false] {
            try await KubernetesAPIClientTests.withServer { server, api in
                KubernetesRolloutTests.putSeedVirtualService(server)
                // The template's own address answers nothing: only the Secret's address can.
                let refusing = try RefusingPort()
                let (template, templateKey) = ClusterMetricTemplateTests.template(
                    "flagger.app/v1beta1", query: "vector(1)", prometheus: "http://127.0.0.1:\(refusing.port)"
                )
                server.put(try template.applying([.add(path: ["spec", "provider", "secretRef"], value: ["name": "prom-auth"])]), at: templateKey)
                if secretExists {
                    let (secret, key) = Self.secret("prom-auth", ["token": "s3cret", "address": prometheus.address])
                    server.put(secret, at: key)
                }
                let lines = NIOLockedValueBox<[String]>([])
                let stop = try await KubernetesRolloutTests.startController(
                    api: api, metrics: ClusterMetricTemplateTests.metrics(defaultPrometheus: prometheus.address),
                    log: { line in lines.withLockedValue { $0.append(line) } }
                )
                server.put(ClusterMetricTemplateTests.canary(threshold: 1), at: KubernetesRolloutTests.canaryKey)
                let ended = await eventually(.seconds(60)) { ["Succeeded", "Failed"].contains(KubernetesRolloutTests.phase(server)) }
                await stop()
                withExtendedLifetime(refusing) {}
                #expect(ended, "\(lines.withLockedValue { $0 })")
                if secretExists {
                    #expect(KubernetesRolloutTests.phase(server) == "Succeeded", "\(lines.withLockedValue { $0 })")
                    #expect(!prometheus.requests.isEmpty && prometheus.requests.allSatisfy { $0.authorization == "Bearer s3cret" })
                } else {
                    #expect(KubernetesRolloutTests.phase(server) == "Failed")
                    let said = lines.withLockedValue { $0 }.contains { $0.contains("Secret default/prom-auth does not exist") }
                    #expect(said, "\(lines.withLockedValue { $0 })")
                }
            }
        }
    }
}
