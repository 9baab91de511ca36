import Foundation
import SerinCore
import SerinManifests
import SerinTesting
import Testing

/// Istio's VirtualService delegation as the files say it: `delegate: {name, namespace}` read on a root route, a
/// VirtualService without hosts read as a delegate, and what istiod would not apply reported at its line.
@Suite("VirtualService delegation")
struct DelegationDecodingTests {
    static let example = ManifestLoader.load(paths: [Fixture.repositoryRoot.appendingPathComponent("examples/delegation").path], recursive: false).sources

    static let root = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge}
        spec:
          servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bookinfo}
        spec:
          hosts: [bookinfo.example.com]
          gateways: [edge]
          http:
          - match: [{uri: {prefix: /reviews}}]
            delegate: {name: reviews}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews-v1}
        spec:
          hosts: [reviews-v1]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http}]
          endpoints: [{address: 127.0.0.1, ports: {http: 1001}}]
        ---

        """

    /// The delegate `reviews`, its http routes as written (indented as entries of `http:`).
    static func delegate(_ routes: String, extra: String = "") -> String {
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\(extra)\n  http:\n\(routes)\n"
    }

    static let split = "  - route: [{destination: {host: reviews-v1}}]"

    @Test("examples/delegation loads with no errors or warnings: a root, its hostless delegate, and a Canary on the delegate")
    func exampleLoads() throws {
        let set = ManifestSet(sources: Self.example)
        #expect(set.diagnostics.isEmpty, "\(Fixture.messages(set.diagnostics))")
        let root = try #require(set.config.virtualServices.first { $0.name.name == "bookinfo" })
        #expect(root.http.first?.delegate == ResourceName(name: "reviews"))
        #expect(set.config.virtualServices.first { $0.name.name == "reviews" }?.hosts == [])
    }

    @Test(
        "what istiod would not apply is an error at its line: a hostless VirtualService no root names, a delegate that is missing, has hosts, or delegates again, a delegate beside a route",
        arguments: [
            (Self.root.replacingOccurrences(of: "delegate: {name: reviews}", with: "delegate: {name: ratings}") + Self.delegate(Self.split),
             ["test.yaml:15:22: error: spec.http[0].delegate.name: VirtualService default/ratings does not exist (VirtualServices: default/bookinfo, default/reviews)",
              "test.yaml:31:3: error: spec.hosts is required: a VirtualService without hosts is a delegate, and no VirtualService's http route names default/reviews in its delegate, so it routes nothing"]),
            (Self.root + Self.delegate(Self.split, extra: "\n  hosts: [reviews]"),
             ["test.yaml:15:22: error: spec.http[0].delegate.name: VirtualService default/reviews has hosts, and a delegate has none: its routes apply only where the root's route sends them"]),
            (Self.root + Self.delegate("  - delegate: {name: deeper}"),
             ["test.yaml:32:15: error: spec.http[0].delegate: a delegate's routes may not delegate again (Istio supports one level)"]),
            (Self.root.replacingOccurrences(of: "    delegate: {name: reviews}", with: "    delegate: {name: reviews}\n    route: [{destination: {host: reviews-v1}}]") + Self.delegate(Self.split),
             // The root is not read, so nothing names the delegate either.
             ["test.yaml:15:15: error: spec.http[0].delegate cannot be combined with route: the delegate's routes say where its requests go",
              "test.yaml:32:3: error: spec.hosts is required: a VirtualService without hosts is a delegate, and no VirtualService's http route names default/reviews in its delegate, so it routes nothing"]),
        ] as [(String, [String])]
    )
    func refused(yaml: String, messages: [String]) {
        let set = Fixture.set(yaml)
        #expect(Fixture.messages(set.errors) == messages)
    }

    @Test("a delegate route whose match lies outside every root match is warned about at the root's delegate: it is dropped there")
    func droppedRoute() {
        let set = Fixture.set(Self.root + Self.delegate("  - match: [{uri: {prefix: /ratings}}]\n    route: [{destination: {host: reviews-v1}}]\n" + Self.split))
        #expect(set.errors.isEmpty, "\(Fixture.messages(set.errors))")
        #expect(Fixture.messages(set.diagnostics) == [
            "test.yaml:15:15: warning: spec.http[0].delegate: VirtualService default/reviews spec.http[0] is dropped here: none of the root route's matches holds its match (a delegate's match must lie within the root's, as Istio merges them)",
        ])
    }
}
