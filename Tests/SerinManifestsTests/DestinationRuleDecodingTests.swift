import SerinCore
import SerinManifests
import Testing

@Suite("DestinationRule decoding")
struct DestinationRuleDecodingTests {
    @Test("decodes host and labelled subsets")
    func subsets() {
        let yaml = """
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: web}
            spec:
              host: web
              subsets:
              - name: v1
                labels: {version: v1}
              - name: v2
                labels: {version: v2}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty)
        let expected = DestinationRule(
            name: ResourceName(name: "web"), host: "web",
            subsets: [.init(name: "v1", labels: ["version": "v1"]), .init(name: "v2", labels: ["version": "v2"])]
        )
        #expect(resources.map(\.resource) == [.destinationRule(expected)])
    }

    @Test("accepts Istio traffic policies the gateway does not support, with a warning naming each")
    func unsupportedTrafficPolicy() {
        let yaml = """
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: web}
            spec:
              host: web
              trafficPolicy:
                tunnel: {protocol: CONNECT, targetHost: proxy.example, targetPort: 8443}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(
            Fixture.messages(diagnostics)
                == ["test.yaml:7:5: warning: spec.trafficPolicy.tunnel is not supported by Serin's gateway, ignored"]
        )
        #expect(resources.map(\.resource) == [.destinationRule(DestinationRule(name: ResourceName(name: "web"), host: "web", subsets: []))])
    }
}
