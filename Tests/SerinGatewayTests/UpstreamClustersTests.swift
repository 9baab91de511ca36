import SerinCore
@testable import SerinGateway
import Testing

/// The per-cluster policy state across a reconfiguration: kept while a cluster's policy and endpoints stay,
/// replaced when they change, and never handed to a request whose route came from the other table.
@Suite("Upstream cluster state across reconfigurations")
struct UpstreamClustersTests {
    static func table(endpoints: Int, consecutive5xx: Int = 3) throws -> RouteTable {
        let services = ["web-v1-service": Array(repeating: 1, count: endpoints).enumerated().map { 20_000 + $0.offset }]
        let rule = TrafficPolicyTests.rule("    outlierDetection: {consecutive5xxErrors: \(consecutive5xx)}")
        return try RoutePolicyTests.table(routes: "  - route: [{destination: {host: web-v1-service}}]", services: services, more: rule)
    }

    /// The first route's first destination: what a request resolved against `table` goes to.
    static func target(_ table: RouteTable) throws -> RouteTable.Target {
        try #require(table.listeners[80]?.virtualHosts.first?.routes.first?.targets.first)
    }

    @Test("kept while policy and endpoints stay; a request from the replaced table with other endpoints gets none")
    func reconcile() throws {
        let clusters = UpstreamClusters(loops: [])
        let two = try Self.table(endpoints: 2)
        clusters.reconcile(with: two)
        let first = try #require(clusters.shared(for: try Self.target(two)))
        clusters.reconcile(with: try Self.table(endpoints: 2))
        #expect(clusters.shared(for: try Self.target(two)) === first, "same policy and endpoints: the same state, ejections kept")
        let three = try Self.table(endpoints: 3)
        clusters.reconcile(with: three)
        #expect(first.isRetired)
        #expect(clusters.shared(for: try Self.target(three))?.endpointCount == 3)
        // A request that resolved its route just before the swap still names two endpoints.
        #expect(clusters.shared(for: try Self.target(two)) == nil)
        let stricter = try Self.table(endpoints: 3, consecutive5xx: 7)
        let before = try #require(clusters.shared(for: try Self.target(three)))
        clusters.reconcile(with: stricter)
        #expect(before.isRetired, "a changed policy starts from fresh state")
        #expect(clusters.shared(for: try Self.target(stricter))?.policy.outlierDetection?.consecutive5xxErrors == 7)
    }
}
