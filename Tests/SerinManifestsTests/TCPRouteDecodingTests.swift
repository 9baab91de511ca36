import Foundation
import SerinCore
import SerinManifests
import SerinTesting
import Testing

/// TCP Gateway servers and VirtualService `tcp` routes: decoded in Istio's shape (its "TCP Traffic Shifting" task),
/// every refused or wrong field reported where it was written.
@Suite("TCP route decoding")
struct TCPRouteDecodingTests {
    /// Istio's task: a TCP server on 31400, tcp-echo's v1/v2 at 80/20.
    static let task = SeedManifests.tcpEcho(v1Port: 9001, v2Port: 9002, weights: (80, 20)).text

    static func set(_ yaml: String = task, adding extra: String = "") -> ManifestSet {
        Fixture.set(yaml + extra)
    }

    /// The task with `old` replaced by `new`, which must be in it.
    static func changed(_ old: String, to new: String) -> String {
        #expect(task.contains(old), "\(old) is not in the task's manifests")
        return task.replacingOccurrences(of: old, with: new)
    }

    @Test("decodes Istio's TCP traffic shifting: a TCP server, a tcp route matching its port, 80/20 over two subsets")
    func decodes() throws {
        let set = Self.set()
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        #expect(set.config.gateways.first?.servers.map(\.forwardsTCP) == [true])
        let route = try #require(set.config.virtualServices.first?.tcp.first)
        #expect(route.matches == [L4Match(port: 31400)])
        #expect(route.destinations.map(\.weight) == [80, 20])
        #expect(route.destinations.map(\.destination) == [
            Destination(host: "tcp-echo", subset: "v1", port: 9000), Destination(host: "tcp-echo", subset: "v2", port: 9000),
        ])
    }

    @Test("a tcp route without match serves every TCP port of its gateways, as in Istio")
    func withoutMatch() throws {
        let set = Self.set(Self.changed("  - match:\n    - port: 31400\n    route:", to: "  - route:"))
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        #expect(set.config.virtualServices.first?.tcp.first?.matches == [])
    }

    @Test(
        "refuses match attributes the gateway cannot see, each at its line with why",
        arguments: [
            ("destinationSubnets: [10.0.0.0/8]", "test.yaml:18:27: error: spec.tcp[0].match[0].destinationSubnets is not supported by "
                + "the embedded gateway: the gateway routes by port only; it does not know where a connection was headed"),
        ]
    )
    func refusedMatchField(field: String, message: String) {
        let set = Self.set(Self.changed("    - port: 31400\n", to: "    - port: 31400\n      \(field)\n"))
        #expect(Fixture.messages(set.errors) == [message])
    }

    @Test("weights of a tcp route follow the http routes' rules")
    func weights() {
        let set = Self.set(Self.changed("weight: 20", to: "weight: 0").replacingOccurrences(of: "weight: 80", with: "weight: 0"))
        #expect(Fixture.messages(set.errors) == ["test.yaml:19:5: error: weights sum to 0: among several destinations, some need a weight above 0 (each takes its weight over the sum)"])
    }

    @Test("a tcp route needs a TCP server on its gateways and port; the TCP server no route serves is warned about")
    func noTCPServer() {
        let set = Self.set(Self.changed("    - port: 31400\n", to: "    - port: 31401\n"))
        #expect(
            Fixture.messages(set.diagnostics) == [
                "test.yaml:17:7: error: spec.tcp[0].match[0]: no TCP server on port 31401 in default/tcp-gateway, so this tcp route "
                    + "gets no traffic: tcp routes are served by Gateway servers with port.protocol TCP, and in the mesh on the ports "
                    + "of the services the VirtualService's hosts name (or the ports its matches name, when they name no known service)",
                "test.yaml:6:11: warning: TCP server port 31400 has no tcp route: no VirtualService bound to default/tcp-gateway has a "
                    + "tcp route for port 31400, so its connections are closed",
            ]
        )
    }

    /// The task bound to the mesh alone: no Gateway, the tcp route for the service's port 9000.
    static let meshTask = SeedManifests.tcpEcho(v1Port: 9001, v2Port: 9002, weights: (80, 20), mesh: true).text

    @Test("a tcp route bound to the mesh alone is served by the mesh on its service's port: only the mesh-only warning")
    func meshBound() {
        let set = Self.set(Self.meshTask)
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(Fixture.messages(set.diagnostics).allSatisfy { $0.contains("bound to no gateway (only the mesh)") }, "\(Fixture.messages(set.diagnostics))")
        #expect(RouteTable(compiling: set.config).meshTCP.keys.sorted() == [9000])
    }

    @Test("a mesh tcp route whose hosts name no known service and whose match names no port has no port to serve, and says so at the route")
    func meshBoundWithoutPort() {
        let yaml = Self.meshTask.replacingOccurrences(of: "hosts: [tcp-echo]\n  tcp:", with: "hosts: [db.external]\n  tcp:")
            .replacingOccurrences(of: "  - match:\n    - port: 9000\n    route:", with: "  - route:")
        let set = Self.set(yaml)
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:7:5: error: spec.tcp[0]: no TCP server in the mesh only, so this tcp route gets no traffic: tcp routes are "
                    + "served by Gateway servers with port.protocol TCP, and in the mesh on the ports of the services the "
                    + "VirtualService's hosts name (or the ports its matches name, when they name no known service)"
            ]
        )
    }

    @Test("a TCP server needs a port of its own: one shared with an HTTP server is refused with why")
    func mixedPort() {
        let http = "    hosts: [\"*\"]\n  - port: {number: 31400, name: http, protocol: HTTP}\n    hosts: [web.example.com]\n"
        let set = Self.set(Self.changed("    hosts: [\"*\"]\n---", to: http + "---"))
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:8:49: error: spec.servers[1].port.protocol: port 31400 is served by Gateway default/tcp-gateway "
                    + "spec.servers[0] (TCP) already, which forwards plain TCP; this server serves plaintext. A TCP server forwards "
                    + "every connection on its port without reading a byte of it, so it needs a port no HTTP, HTTPS or TLS server uses"
            ]
        )
    }

    /// A Canary `tcp-echo` moving tcp-echo from v1 to v2 with `analysis` (indented under `analysis:`).
    static func canary(_ analysis: String) -> String {
        "\n---\n" + SeedManifests.tcpEchoCanary(analysis: "    interval: 10s\n    stepWeight: 20\n    maxWeight: 60\n" + analysis).text
    }

    @Test("a Canary on tcp routes with no metrics, or only templates and webhooks, is accepted")
    func canaryWithoutBuiltins() {
        let set = Self.set(adding: Self.canary("    metrics: []\n    webhooks: [{name: check, url: http://127.0.0.1:1/check}]"))
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
    }

    @Test("a built-in metric on a tcp-only Canary is refused at the metric, saying to use templates over istio_tcp_* or webhooks")
    func canaryBuiltinWritten() {
        let set = Self.set(adding: Self.canary("    metrics:\n    - {name: request-success-rate, thresholdRange: {min: 99}}"))
        #expect(
            Fixture.messages(set.errors) == [
                "test.yaml:62:7: error: spec.analysis.metrics[0]: request-success-rate is a built-in HTTP metric, but VirtualService "
                    + "default/tcp-echo has only tcp routes, whose connections carry no requests to count: use metrics with a "
                    + "templateRef (a query over Istio's TCP metrics istio_tcp_connections_opened_total, istio_tcp_connections_closed_total, "
                    + "istio_tcp_received_bytes_total or istio_tcp_sent_bytes_total with the destination labels) or webhooks, as Flagger "
                    + "does for TCP canaries"
            ]
        )
    }

    @Test("a tcp-only Canary that lists no metrics is told the built-in defaults are HTTP's, and how to check none")
    func canaryBuiltinDefaulted() {
        let set = Self.set(adding: Self.canary(""))
        let messages = Fixture.messages(set.errors)
        #expect(messages.count == 2, "\(messages)")
        let expected = "test.yaml:58:5: error: spec.analysis: metrics is not written, so the analysis checks the built-in HTTP "
            + "metric request-success-rate, but VirtualService default/tcp-echo has only tcp routes, whose connections carry no "
            + "requests to count: use metrics with a templateRef (a query over Istio's TCP metrics istio_tcp_connections_opened_total, "
            + "istio_tcp_connections_closed_total, istio_tcp_received_bytes_total or istio_tcp_sent_bytes_total with the destination "
            + "labels) or webhooks, as Flagger does for TCP canaries; or "
            + "write metrics: [] to check none"
        #expect(messages.first == expected, "\(messages)")
    }

    @Test("a tcp-only Canary's A/B match, which acts on requests, is refused at its line")
    func canaryMatch() {
        let canary = Self.canary("    iterations: 3\n    metrics: []\n    match: [{headers: {x-canary: {exact: insider}}}]")
            .replacingOccurrences(of: "    stepWeight: 20\n    maxWeight: 60\n", with: "")
        let set = Self.set(adding: canary)
        #expect(
            Fixture.messages(set.errors).contains(
                "test.yaml:61:12: error: spec.analysis.match acts on HTTP requests, but VirtualService default/tcp-echo has only tcp "
                    + "routes, whose connections carry no requests to act on"
            ),
            "\(Fixture.messages(set.errors))"
        )
    }

    @Test("examples/tcp loads with no errors or warnings: Istio's TCP traffic shifting")
    func example() {
        let path = Fixture.repositoryRoot.appendingPathComponent("examples/tcp").path
        let set = ManifestSet(sources: ManifestLoader.load(paths: [path], recursive: false).sources)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        #expect(set.config.gateways.flatMap(\.servers).map(\.forwardsTCP) == [true])
        #expect(set.config.virtualServices.map { $0.tcp.count } == [1])
    }
}
