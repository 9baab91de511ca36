import NIOCore
import NIOPosix
import SerinCore
@testable import SerinGateway
import SerinTesting
import Testing

/// The per-cluster policy state across a reconfiguration: kept while a cluster's policy and endpoints stay,
/// replaced when they change, and never handed to a request whose route came from the other table.
@Suite("Upstream cluster state across reconfigurations")
struct UpstreamClustersTests {
    /// `endpoints` endpoints of web-v1-service on ports from `firstPort` up, with outlier detection at `consecutive5xx`.
    static func table(endpoints: Int, consecutive5xx: Int = 3, firstPort: Int = 20_000) throws -> RouteTable {
        let services = ["web-v1-service": (0..<endpoints).map { firstPort + $0 }]
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

    @Test("a replaced cluster's idle connections close, and the pool forgets where they waited")
    func replacedClusterLeavesNothingPooled() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = try await ObservedBackend.start(group: group)
        let loop = LoopContext(eventLoop: group.next(), shard: 0, connectTimeout: .seconds(2))
        let clusters = UpstreamClusters(loops: [loop])
        let first = try Self.table(endpoints: 1, firstPort: backend.port)
        clusters.reconcile(with: first)
        let cluster = try #require(clusters.shared(for: try Self.target(first)))
        let endpoint = EndpointAddress(host: "127.0.0.1", port: backend.port)
        // The pool is the loop's alone: every look at it runs there.
        let pooled = { try await loop.eventLoop.submit { (loop.pool.idleCount, loop.pool.bucketCount) }.get() }
        // A connection of the cluster's, used and returned: it waits idle in the cluster's bucket.
        let leased = loop.eventLoop.makePromise(of: Void.self)
        loop.eventLoop.execute {
            loop.pool.lease(endpoint, cluster: cluster) { result in
                if case .success(let connection) = result { loop.pool.release(connection) }
                leased.completeWith(result.map { _ in () })
            }
        }
        try await leased.futureResult.get()
        #expect(try await pooled() == (1, 1))

        clusters.reconcile(with: try Self.table(endpoints: 1, consecutive5xx: 7, firstPort: backend.port))
        #expect(cluster.isRetired)
        // The pool closes the replaced cluster's idle connections on its loop's next turn, before this runs.
        #expect(try await pooled() == (0, 0))
        var waited = 0
        while backend.openConnections > 0, waited < 200 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(backend.openConnections == 0, "the idle connection of the replaced cluster is closed")
        await backend.close()
        try await group.shutdownGracefully()
    }
}
