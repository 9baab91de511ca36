import SerinCore
import SerinManifests
import Testing

/// Secrets given with `-f` hold TLS credentials and alert addresses: decoded as Kubernetes stores them, and never
/// quoted back to the user.
@Suite("Secret decoding")
struct SecretDecodingTests {
    @Test("data is base64 as Kubernetes stores it, stringData is plain text and wins over data for the same key")
    func dataAndStringData() throws {
        let (resources, diagnostics) = Fixture.decode(
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: web-credential, namespace: istio-system}
            type: kubernetes.io/tls
            data:
              tls.crt: Y2VydGlmaWNhdGU=
              tls.key: a2V5
            stringData:
              tls.key: plain key
            """
        )
        #expect(diagnostics.isEmpty)
        let secret = try #require(resources.secrets[ResourceName(namespace: "istio-system", name: "web-credential")])
        #expect(secret.type == "kubernetes.io/tls")
        #expect(secret.text("tls.crt") == "certificate")
        #expect(secret.text("tls.key") == "plain key")
    }

    @Test("a Secret without type is Opaque; unpadded and wrapped base64 both decode")
    func defaults() throws {
        let (resources, diagnostics) = Fixture.decode(
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: slack}
            data:
              address: "aHR0cHM6Ly9\\nob29rcy5leGFtcGxl"
              short: YQ
            """
        )
        #expect(diagnostics.isEmpty)
        let secret = try #require(resources.secrets[ResourceName(name: "slack")])
        #expect(secret.type == "Opaque")
        #expect(secret.text("address") == "https://hooks.example")
        #expect(secret.text("short") == "a")
    }

    @Test("a value that is not base64 is an error at its key that does not quote the value, and no Secret is read")
    func badBase64() {
        let (resources, diagnostics) = Fixture.decode(
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: slack}
            data:
              address: https://hooks.slack.com/services/T000/B000/XXXX
            """
        )
        #expect(resources.isEmpty)
        #expect(
            Fixture.messages(diagnostics) == [
                "test.yaml:5:12: error: data.address: expected base64 (as Kubernetes stores Secret data), got text that is not"
            ]
        )
    }

    @Test("a Secret's description names its keys, never its values")
    func descriptionHidesValues() throws {
        let (resources, _) = Fixture.decode(
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: slack}
            stringData: {address: "https://hooks.slack.com/services/T000/B000/XXXX"}
            """
        )
        let secret = try #require(resources.secrets[ResourceName(name: "slack")])
        #expect(secret.description == "Secret default/slack (Opaque; keys: address)")
        #expect(!"\(resources)".contains("hooks.slack.com"))
        var dumped = ""
        dump(resources, to: &dumped)
        #expect(!dumped.contains("hooks.slack.com"))
    }

    @Test("unknown top-level fields of a Secret are reported like any resource's")
    func unknownField() {
        let (_, diagnostics) = Fixture.decode(
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: slack}
            spec: {address: x}
            """
        )
        #expect(Fixture.messages(diagnostics).contains { $0.contains("spec") })
    }
}
