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

    @Test("decodes tunnel: the forward proxy the endpoints are, and the target each connection asks it for")
    func tunnelTrafficPolicy() {
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
        #expect(Fixture.messages(diagnostics).isEmpty)
        let expected = DestinationRule(
            name: ResourceName(name: "web"), host: "web", subsets: [],
            trafficPolicy: TrafficPolicy(tunnel: TunnelSettings(targetHost: "proxy.example", targetPort: 8443))
        )
        #expect(resources.map(\.resource) == [.destinationRule(expected)])
    }
}
