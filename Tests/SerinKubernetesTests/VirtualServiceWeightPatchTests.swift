import Foundation
import SerinCore
import SerinKubernetes
import Testing
import Yams

/// The weight changes a rollout makes to a VirtualService in Kubernetes, computed as JSON Patch on the raw
/// object: exact on the routes Serin owns, blind to everything else, and refused when someone else got there
/// first.
@Suite("VirtualService weight patches")
struct VirtualServiceWeightPatchTests {
    static let stable = Destination(host: "web-v1-service")
    static let canary = Destination(host: "web-v2-service")

    static func weights(_ stable: Int, _ canary: Int) -> (WeightedDestination, WeightedDestination) {
        (WeightedDestination(destination: Self.stable, weight: stable), WeightedDestination(destination: Self.canary, weight: canary))
    }

    /// The seed's VirtualService, as the API server would hand it back (JSON from its YAML).
    static func seedVirtualService() throws -> JSONValue {
        try #require(try KubernetesManifestTests.documents("examples/seed/web-gateway-virtualservice.yaml").first { $0["kind"] == "VirtualService" })
    }

    static func patched(_ document: JSONValue, _ stable: Int, _ canary: Int) throws -> JSONValue {
        let (stable, canary) = weights(stable, canary)
        return try document.applying(VirtualServiceWeightPatch.operations(for: document, split: TrafficSplit(stable: stable, canary: canary)))
    }

    @Test("the seed's 90/10 step puts web-v2-service beside web-v1-service on port 80, guarded by a test of the route as read")
    func seedFirstStep() throws {
        let original = try Self.seedVirtualService()
        let (stable, canary) = Self.weights(90, 10)
        let operations = try VirtualServiceWeightPatch.operations(for: original, split: TrafficSplit(stable: stable, canary: canary))
        let route: JSONPointer = ["spec", "http", "0", "route"]
        #expect(operations.map(\.path) == [route, route])
        guard case .test(_, let tested) = operations.first else {
            Issue.record("the first operation must be a test: \(operations)")
            return
        }
        #expect(tested == original.value(at: route))
        let result = try original.applying(operations)
        let expected: JSONValue = [
            ["destination": ["host": "web-v1-service", "port": ["number": 80]], "weight": 90],
            ["destination": ["host": "web-v2-service", "port": ["number": 80]], "weight": 10],
        ]
        #expect(result.value(at: route) == expected)
        // Everything outside the owned route is as it was.
        #expect(try result.applying([.replace(path: route, value: original.value(at: route)!)]) == original)
        // 0/100, then back: the same route, the same two entries, only weights move.
        let promoted = try Self.patched(result, 0, 100)
        #expect(promoted.value(at: route.appending(0).appending("weight")) == 0)
        #expect(promoted.value(at: route.appending(1).appending("weight")) == 100)
    }

    @Test("a tcp route that sends to stable gets the split's weights, guarded by a test; other tcp routes and the http list stay; a tcp-only VirtualService is served")
    func tcpRoutesMove() throws {
        let tcpOnly: JSONValue = [
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": ["name": "echo"],
            "spec": [
                "hosts": ["*"], "gateways": ["echo-gateway"],
                "tcp": [
                    ["match": [["port": 31400]], "route": [["destination": ["host": "web-v1-service", "port": ["number": 9000]]]]],
                    ["match": [["port": 31401]], "route": [["destination": ["host": "other-service"]]]],
                ],
            ],
        ]
        let route: JSONPointer = ["spec", "tcp", "0", "route"]
        let (stable, canary) = Self.weights(80, 20)
        let operations = try VirtualServiceWeightPatch.operations(for: tcpOnly, split: TrafficSplit(stable: stable, canary: canary))
        #expect(operations.map(\.path) == [route, route])
        let result = try tcpOnly.applying(operations)
        #expect(result.value(at: route) == [
            ["destination": ["host": "web-v1-service", "port": ["number": 9000]], "weight": 80],
            ["destination": ["host": "web-v2-service", "port": ["number": 9000]], "weight": 20],
        ])
        #expect(result.value(at: ["spec", "tcp", "1"]) == tcpOnly.value(at: ["spec", "tcp", "1"]))
        let serving = try VirtualServiceWeightPatch.servingRoutes(of: result, name: ResourceName(name: "echo"))
        #expect(serving.routes.first?.map(\.weight) == [80, 20])
        #expect(try Self.patched(result, 80, 20) == result, "weights already so: nothing to write")

        // Beside http routes, both lists move in one patch.
        let seed = try Self.seedVirtualService()
        let both = try seed.applying([.add(path: ["spec", "tcp"], value: try #require(tcpOnly["spec"]?["tcp"]))])
        let mixed = try Self.patched(both, 50, 50)
        #expect(mixed.value(at: route.appending(1).appending("weight")) == 50)
        #expect(mixed.value(at: ["spec", "http", "0", "route", "1", "weight"]) == 50)

        let neither: JSONValue = ["kind": "VirtualService", "metadata": ["name": "bare"], "spec": ["hosts": ["*"]]]
        #expect(throws: VirtualServiceWeightPatch.Failure.notAVirtualService("bare has no spec.http or spec.tcp list")) {
            _ = try Self.patched(neither, 90, 10)
        }
    }

    @Test("only routes that send to stable change; matches, other routes, entry fields and unknown fields survive")
    func othersUntouched() throws {
        let document: JSONValue = [
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": ["name": "web", "annotations": ["team": "checkout"], "resourceVersion": "41"],
            "spec": [
                "hosts": ["*"], "x-vendor-extension": ["keep": true],
                "http": [
                    ["name": "api", "match": [["uri": ["prefix": "/api"]]], "route": [["destination": ["host": "api-service"]]]],
                    [
                        "name": "web", "timeout": "5s",
                        "route": [
                            ["destination": ["host": "web-v1-service", "port": ["number": 8080]], "headers": ["response": ["set": ["x-v": "1"]]]]
                        ],
                    ],
                ],
            ],
        ]
        let result = try Self.patched(document, 75, 25)
        let owned: JSONPointer = ["spec", "http", "1", "route"]
        let entries = try #require(result.value(at: owned)?.arrayValue)
        #expect(entries.count == 2)
        #expect(entries[0]["headers"] == ["response": ["set": ["x-v": "1"]]], "the stable entry keeps its own fields")
        #expect(entries[0]["weight"] == 75)
        #expect(entries[1] == ["destination": ["host": "web-v2-service", "port": ["number": 8080]], "weight": 25])
        #expect(try result.applying([.replace(path: owned, value: document.value(at: owned)!)]) == document)
    }

    @Test("a concurrent edit of an owned route makes the patch fail whole and change nothing")
    func concurrentEditDetected() throws {
        let original = try Self.seedVirtualService()
        let (stable, canary) = Self.weights(90, 10)
        let operations = try VirtualServiceWeightPatch.operations(for: original, split: TrafficSplit(stable: stable, canary: canary))
        // Someone else edits the route between Serin's read and its write.
        let edited = try Self.patched(original, 50, 50)
        #expect(throws: JSONPatchError.self) { try edited.applying(operations) }
        // Recomputed from a fresh read, the change goes through.
        let retried = try VirtualServiceWeightPatch.operations(for: edited, split: TrafficSplit(stable: stable, canary: canary))
        #expect(try edited.applying(retried).value(at: ["spec", "http", "0", "route", "1", "weight"]) == 10)
    }

    @Test("weights already in place need no patch")
    func nothingToDo() throws {
        let at90 = try Self.patched(try Self.seedVirtualService(), 90, 10)
        let (stable, canary) = Self.weights(90, 10)
        #expect(try VirtualServiceWeightPatch.operations(for: at90, split: TrafficSplit(stable: stable, canary: canary)).isEmpty)
    }

    @Test("a VirtualService with no route to stable is an error that names both")
    func noRouteToStable() throws {
        let document: JSONValue = ["metadata": ["name": "web"], "spec": ["http": [["route": [["destination": ["host": "other"]]]]]]]
        let (stable, canary) = Self.weights(90, 10)
        #expect(throws: VirtualServiceWeightPatch.Failure.noRouteToStable(virtualService: "web", host: "web-v1-service")) {
            try VirtualServiceWeightPatch.operations(for: document, split: TrafficSplit(stable: stable, canary: canary))
        }
        #expect(throws: VirtualServiceWeightPatch.Failure.self) {
            try VirtualServiceWeightPatch.operations(for: ["metadata": ["name": "web"]], split: TrafficSplit(stable: stable, canary: canary))
        }
    }

    @Test("JSON Patch is written as the Kubernetes API reads it, with escaped pointers and whole-number weights")
    func wireFormat() throws {
        let operations: [JSONPatchOperation] = [
            .test(path: ["metadata", "annotations", "serin.dev/owner"], value: "a~b"),
            .replace(path: ["spec", "http", "0", "route", "1", "weight"], value: 10),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(operations), as: UTF8.self)
        #expect(
            text
                == #"[{"op":"test","path":"\/metadata\/annotations\/serin.dev~1owner","value":"a~b"},{"op":"replace","path":"\/spec\/http\/0\/route\/1\/weight","value":10}]"#
                .replacingOccurrences(of: "\\/", with: "/")
        )
        #expect(try JSONDecoder().decode([JSONPatchOperation].self, from: Data(text.utf8)) == operations)
        #expect(try JSONPointer(parsing: "/a~1b/~0c").tokens == ["a/b", "~c"])
        #expect(throws: JSONPatchError.invalidPointer("spec")) { try JSONPointer(parsing: "spec") }
    }
}
