import Foundation
import SerinController
import SerinCore
@testable import SerinKubernetes
import SerinTesting
import Testing

/// Flagger's TCP canary on Kubernetes (`service.appProtocol: tcp`), end to end against the API-server double: the
/// podinfo Deployment released by an image change, with the weights on the VirtualService's tcp route.
@Suite("TCP workload rollouts on Kubernetes", .timeLimit(.minutes(2)))
struct KubernetesTCPWorkloadRolloutTests {
    typealias Workload = KubernetesWorkloadRolloutTests

    /// Flagger's Canary for podinfo (`KubernetesWorkloadRolloutTests.flaggerCanary`) as a TCP service, judged by a
    /// MetricTemplate over Istio's TCP metrics (the double's `ScriptedMetrics` answers it).
    static let canary: JSONValue = {
        let service: [JSONPatchOperation] = [
            .add(path: ["spec", "service", "appProtocol"], value: "TCP"), .add(path: ["spec", "service", "portName"], value: "tcp-podinfo"),
            .add(path: ["spec", "service", "match"], value: [["port": 9898]]),
        ]
        let analysis: JSONValue = [
            "interval": "400ms", "threshold": 2, "stepWeights": [30, 50],
            "metrics": [["name": "connections-opened", "templateRef": ["name": "tcp-connections-opened"], "thresholdRange": ["min": 1], "interval": "1m"]],
        ]
        return (try? Workload.flaggerCanary.applying(service + [.replace(path: ["spec", "analysis"], value: analysis)])) ?? [:]
    }()

    /// Every check reads `value`: the template's 1 or more passes, 0 fails.
    static func connections(_ value: Double) -> ScriptedMetrics.Script {
        { request in
            var samples = AnalysisSamples()
            for check in request.metrics { samples[metric: check.name] = .value(value, window: check.interval) }
            return samples
        }
    }

    static func route(_ server: KubernetesAPIServer) -> JSONValue? {
        server.object(Workload.virtualService)?["spec"]?["tcp"]?[0]
    }

    /// The tcp route's weights, primary then canary.
    static func weights(_ server: KubernetesAPIServer) -> [Int] {
        route(server)?["route"]?.arrayValue?.compactMap { $0["weight"]?.intValue } ?? []
    }

    @Test("a TCP canary's release steps the weights of the VirtualService's tcp route and is promoted into the primary at 100/0; a failing analysis rolls the next one back")
    func tcpReleasePromotedThenRolledBack() async throws {
        let metrics = ScriptedMetrics(Self.connections(3))
        let key = Workload.flaggerCanaryKey
        try await Workload.withWorkloadController(metrics: metrics) { server, lines in
            server.put(Self.canary, at: key)
            #expect(await eventually(.seconds(20)) { Workload.phase(server, key) == "Initialized" }, "\(lines.messages)")
            // As Flagger writes it: a tcp route and no http one, the Services carrying the appProtocol.
            let spec = server.object(Workload.virtualService)?["spec"]
            #expect(spec?["http"] == nil)
            #expect(spec?["hosts"] == ["podinfo", "app.example.com"] && spec?["gateways"] == ["public-gateway"])
            #expect(Self.route(server)?["match"] == [["port": 9898]])
            #expect(Self.route(server)?["route"]?.arrayValue?.compactMap { $0["destination"]?["host"]?.stringValue } == ["podinfo-primary", "podinfo-canary"])
            #expect(Self.weights(server) == [100, 0])
            #expect(Workload.services.allSatisfy { server.object($0)?["spec"]?["ports"]?[0]?["appProtocol"] == "TCP" })

            // Release 1: every weight the tcp route takes, in order, until the primary runs the new image.
            var seen: [[Int]] = []
            Workload.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.1")
            let promoted = await eventually(.seconds(30)) {
                let weights = Self.weights(server)
                if seen.last != weights { seen.append(weights) }
                return Workload.phase(server, key) == "Succeeded" && weights == [100, 0]
            }
            #expect(promoted, "\(lines.messages)")
            #expect(seen == [[100, 0], [70, 30], [50, 50], [100, 0]], "\(seen)")
            #expect(Workload.image(server, Workload.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(10)) { Workload.replicas(server, Workload.target) == 0 })
            #expect(!metrics.requests.isEmpty && metrics.requests.allSatisfy { $0.metrics.map(\.name) == ["connections-opened"] })

            // Release 2: the template reads no connections opened; rolled back, the primary keeps 6.0.1.
            metrics.answer(Self.connections(0))
            Workload.setImage(server, "ghcr.io/stefanprodan/podinfo:6.0.2")
            #expect(await eventually(.seconds(20)) { Self.weights(server) == [70, 30] }, "\(lines.messages)")
            #expect(await eventually(.seconds(30)) { Workload.phase(server, key) == "Failed" }, "\(lines.messages)")
            #expect(await eventually(.seconds(10)) { Self.weights(server) == [100, 0] })
            #expect(Workload.image(server, Workload.primary) == "ghcr.io/stefanprodan/podinfo:6.0.1")
            #expect(await eventually(.seconds(10)) { Workload.replicas(server, Workload.target) == 0 })
            #expect(server.object(Workload.virtualService)?["spec"]?["http"] == nil)
        }
    }

    @Test("an edit of service.match ports reaches the tcp route's L4 matches, and its weights stay as they are")
    func matchPortsEditReachesTheTCPRoute() async throws {
        try await Workload.withWorkloadController(metrics: ScriptedMetrics(Self.connections(3))) { server, lines in
            server.put(Self.canary, at: Workload.flaggerCanaryKey)
            #expect(await eventually(.seconds(20)) { Self.route(server)?["match"] == [["port": 9898]] }, "\(lines.messages)")
            server.edit(Workload.flaggerCanaryKey) { object in
                object = (try? object.applying([.replace(path: ["spec", "service", "match"], value: [["port": 9898], ["port": 31400]])])) ?? object
            }
            #expect(await eventually(.seconds(20)) { Self.route(server)?["match"] == [["port": 9898], ["port": 31400]] }, "\(lines.messages)")
            #expect(Self.weights(server) == [100, 0])
            // No match at all: the route takes every connection, as Flagger writes it.
            server.edit(Workload.flaggerCanaryKey) { object in
                object = (try? object.applying([.remove(path: ["spec", "service", "match"])])) ?? object
            }
            #expect(await eventually(.seconds(20)) { Self.route(server).map { $0["match"] == nil } == true }, "\(lines.messages)")
            #expect(Self.weights(server) == [100, 0])
        }
    }
}

@Suite("Workload objects of a TCP canary")
struct WorkloadObjectsTCPTests {
    static let canary: JSONValue = ["apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": ["name": "podinfo", "uid": "u1"]]
    static let target: JSONValue = ["spec": ["selector": ["matchLabels": ["app": "podinfo"]], "template": ["metadata": ["labels": ["app": "podinfo"]]]]]
    static let workload = CanaryWorkload(deployment: "podinfo", port: 9898)

    static func desired(service: JSONValue) -> [WorkloadObjects.Desired] {
        WorkloadObjects.desired(canary: canary, workload: workload, target: target, service: service, autoscaler: nil)
    }

    static func virtualService(service: JSONValue) -> WorkloadObjects.Desired? {
        desired(service: service).first { $0.path.resource == "virtualservices" }
    }

    static func entry(_ host: String, weight: Int) -> JSONValue {
        ["destination": ["host": .string(host), "port": ["number": 9898]], "weight": .number(Double(weight))]
    }

    @Test("appProtocol tcp, in any case, gives the VirtualService one tcp route as Flagger writes it: an L4 match per service.match port, the primary at 100 and the canary at 0, hosts and gateways as for http; the http-only fields stay out")
    func desiredTCPVirtualService() throws {
        for appProtocol in ["tcp", "TCP", "Tcp"] {
            let service: JSONValue = [
                "port": 9898, "appProtocol": .string(appProtocol), "match": [["port": 9898], ["port": 31400]],
                "gateways": ["public-gateway"], "hosts": ["app.example.com"], "retries": ["attempts": 3],
            ]
            let virtualService = try #require(Self.virtualService(service: service))
            #expect(virtualService.object["spec"] == [
                "hosts": ["podinfo", "app.example.com"], "gateways": ["public-gateway"],
                "tcp": [[
                    "match": [["port": 9898], ["port": 31400]],
                    "route": [Self.entry("podinfo-primary", weight: 100), Self.entry("podinfo-canary", weight: 0)],
                ]],
            ], "\(appProtocol)")
            let services = Self.desired(service: service).filter { $0.path.resource == "services" }
            #expect(services.count == 3 && services.allSatisfy { $0.object["spec"]?["ports"]?[0]?["appProtocol"] == .string(appProtocol) })
        }
        // Without service.match the route has no match: every connection of its gateways.
        let unmatched = try #require(Self.virtualService(service: ["port": 9898, "appProtocol": "tcp"]))
        #expect(unmatched.object["spec"]?["tcp"]?[0]?["match"] == nil)
        #expect(unmatched.object["spec"]?["tcp"]?[0]?["route"] == [Self.entry("podinfo-primary", weight: 100), Self.entry("podinfo-canary", weight: 0)])
        // Any other appProtocol keeps the http route.
        let http = try #require(Self.virtualService(service: ["port": 9898, "appProtocol": "http", "match": [["port": 9898]]]))
        #expect(http.object["spec"]?["tcp"] == nil)
        #expect(http.object["spec"]?["http"]?[0]?["match"] == [["port": 9898]])
    }

    @Test("an edit of appProtocol to tcp and back moves the Canary route between http and tcp with the weights it has, leaving one list")
    func appProtocolEditMovesTheRoute() throws {
        let tcp = try #require(Self.virtualService(service: ["port": 9898, "appProtocol": "tcp", "match": [["port": 9898]]]))
        let http = try #require(Self.virtualService(service: ["port": 9898, "retries": ["attempts": 3]]))
        let midRelease: JSONValue = [Self.entry("podinfo-primary", weight: 70), Self.entry("podinfo-canary", weight: 30)]
        // The http VirtualService as stored mid-release, its Canary route at 70/30.
        var fields = try #require(http.object.objectValue)
        var spec = try #require(fields["spec"]?.objectValue)
        spec["http"] = [["retries": ["attempts": 3], "route": midRelease]]
        fields["spec"] = .object(spec)

        let toTCP = WorkloadObjects.align(&fields, with: tcp, workload: Self.workload)
        #expect(toTCP)
        #expect(fields["spec"]?["http"] == nil)
        #expect(fields["spec"]?["tcp"] == [["match": [["port": 9898]], "route": midRelease]])
        let again = WorkloadObjects.align(&fields, with: tcp, workload: Self.workload)
        #expect(!again, "in line already: nothing to write")
        let toHTTP = WorkloadObjects.align(&fields, with: http, workload: Self.workload)
        #expect(toHTTP)
        #expect(fields["spec"]?["tcp"] == nil)
        #expect(fields["spec"]?["http"] == [["retries": ["attempts": 3], "route": midRelease]])
    }
}
