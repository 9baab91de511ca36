import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("ServiceEntry decoding")
struct ServiceEntryDecodingTests {
    private func entry(resolution: String, endpoints: Bool) -> String {
        """
        apiVersion: networking.istio.io/v1beta1
        kind: ServiceEntry
        metadata: {name: web-v1}
        spec:
          hosts: [web-v1-service]
          location: MESH_INTERNAL
          resolution: \(resolution)
          ports:
          - {number: 80, name: http, protocol: HTTP}
        """ + (endpoints ? "\n  endpoints:\n  - address: 127.0.0.1\n    ports: {http: 18081}\n    labels: {version: v1}" : "")
    }

    @Test("decodes hosts, ports, location, resolution and STATIC endpoints")
    func staticEntry() {
        let (resources, diagnostics) = Fixture.decode(entry(resolution: "STATIC", endpoints: true))
        #expect(diagnostics.isEmpty)
        let expected = ServiceEntryResource(
            name: ResourceName(name: "web-v1"), hosts: ["web-v1-service"],
            ports: [.init(number: 80, name: "http", protocol: "HTTP")], location: .meshInternal, resolution: .static,
            endpoints: [ServiceEndpoint(address: "127.0.0.1", ports: ["http": 18081], labels: ["version": "v1"])]
        )
        #expect(resources.map(\.resource) == [.serviceEntry(expected)])
    }

    /// The STATIC entry with `field` (`weight: 3`) added to its endpoint, decoded, and what decoding said.
    private func withEndpointField(_ field: String) -> (ServiceEntryResource?, [String]) {
        let (resources, diagnostics) = Fixture.decode(entry(resolution: "STATIC", endpoints: true) + "\n    \(field)")
        guard case .serviceEntry(let decoded) = resources.first?.resource else { return (nil, Fixture.messages(diagnostics)) }
        return (decoded, Fixture.messages(diagnostics))
    }

    @Test("reads an endpoint's weight (0, as in Istio, is the default 1); a negative one is an error at the field")
    func endpointWeight() throws {
        func decoded(_ weight: String) -> (ServiceEntryResource?, [String]) { withEndpointField("weight: \(weight)") }
        let (weighted, messages) = decoded("3")
        #expect(messages.isEmpty, "\(messages)")
        #expect(weighted?.endpoints.first?.weight == 3)
        #expect(decoded("0").0?.endpoints.first?.weight == 1)
        #expect(decoded("-2").1 == ["test.yaml:14:13: error: spec.endpoints[0].weight: expected 0 or more, got -2"])
    }

    @Test("reads an endpoint's locality, region[/zone[/subzone]]; one that is not is an error at the field")
    func locality() {
        func decoded(_ locality: String) -> (ServiceEntryResource?, [String]) { withEndpointField("locality: \(locality)") }
        let (decodedEntry, messages) = decoded("us-east1/us-east1-b")
        #expect(messages.isEmpty, "\(messages)")
        #expect(decodedEntry?.endpoints.first?.locality == Locality(region: "us-east1", zone: "us-east1-b"))
        #expect(decoded("us-east1//rack4").1 == [
            "test.yaml:14:15: error: spec.endpoints[0].locality is \"us-east1//rack4\", expected region, region/zone or region/zone/subzone"
        ])
    }

    @Test("reads subjectAltNames, the names the entry's endpoints' certificates may carry, with no warning")
    func subjectAltNames() {
        let yaml = entry(resolution: "STATIC", endpoints: true).replacingOccurrences(
            of: "  location: MESH_INTERNAL", with: "  location: MESH_INTERNAL\n  subjectAltNames: [web.internal, spiffe://cluster.local/ns/default/sa/web]"
        )
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        guard case .serviceEntry(let decoded) = resources.first?.resource else {
            Issue.record("not a ServiceEntry: \(resources)")
            return
        }
        #expect(decoded.subjectAltNames == ["web.internal", "spiffe://cluster.local/ns/default/sa/web"])
    }

    @Test(
        "says when the embedded gateway cannot use the entry's resolution",
        arguments: [
            ("DNS", false, "test.yaml:7:15: warning: resolution DNS is not used by the embedded gateway: it needs STATIC endpoints"),
            ("NONE", false, "test.yaml:7:15: warning: resolution NONE is not used by the embedded gateway: it needs STATIC endpoints"),
            ("NONE", true, "test.yaml:7:15: error: resolution STATIC is required when endpoints are given, got NONE"),
            ("STATIC", false, "test.yaml:7:15: warning: resolution STATIC without endpoints: the embedded gateway has nowhere to send this traffic"),
            ("SOMETIMES", false, "test.yaml:7:15: error: spec.resolution: expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, got \"SOMETIMES\""),
        ]
    )
    func resolutions(resolution: String, endpoints: Bool, message: String) {
        let (_, diagnostics) = Fixture.decode(entry(resolution: resolution, endpoints: endpoints))
        #expect(Fixture.messages(diagnostics) == [message])
    }

    @Test("requires a port name, which endpoints use to map ports")
    func portNameRequired() {
        let yaml = entry(resolution: "STATIC", endpoints: true).replacingOccurrences(of: "name: http, ", with: "")
        let (resources, diagnostics) = Fixture.decode(yaml)
        #expect(Fixture.messages(diagnostics) == ["test.yaml:9:5: error: spec.ports[0].name is required"])
        #expect(resources.isEmpty)
    }

    @Test("a port protocol Istio does not know is an error at the field, naming the ones it knows; case does not matter")
    func unknownPortProtocol() {
        let typo = entry(resolution: "STATIC", endpoints: true).replacingOccurrences(of: "protocol: HTTP", with: "protocol: GRCP")
        let (resources, diagnostics) = Fixture.decode(typo)
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:9:40: error: spec.ports[0].protocol: expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, HTTP_PROXY, MONGO, MYSQL, REDIS, TCP, TLS, UDP, got \"GRCP\"",
        ])
        #expect(resources.isEmpty)
        let lower = entry(resolution: "STATIC", endpoints: true).replacingOccurrences(of: "protocol: HTTP", with: "protocol: grpc")
        #expect(Fixture.decode(lower).1.isEmpty)
    }

    @Test("an endpoint port named after no port of the entry is warned of at its key: traffic would reach the endpoint on the port's own number")
    func endpointPortNameTypo() {
        let typo = entry(resolution: "STATIC", endpoints: true).replacingOccurrences(of: "ports: {http: 18081}", with: "ports: {htp: 18081}")
        let (resources, diagnostics) = Fixture.decode(typo)
        #expect(Fixture.messages(diagnostics) == [
            "test.yaml:12:18: warning: spec.endpoints[0].ports.htp: no port of this ServiceEntry is named htp (ports: http); the endpoint is reached on each port's own number",
        ])
        #expect(resources.count == 1)
    }
}
