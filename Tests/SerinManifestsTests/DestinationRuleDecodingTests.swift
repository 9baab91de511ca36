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

    @Test("accepts a trafficPolicy but warns that it is not applied yet")
    func trafficPolicy() {
        let yaml = """
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: web}
            spec:
              host: web
              trafficPolicy:
                loadBalancer: {simple: ROUND_ROBIN}
            """
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == ["test.yaml:6:3: warning: spec.trafficPolicy is not applied by the embedded gateway yet"])
        #expect(resources.count == 1)
    }
}
