import SerinCore
@testable import SerinGateway
import Testing

/// A connection remembers the series it last counted in, so most requests skip the shard's lookup: what it counts
/// must be exactly what the lookup would have counted.
@Suite("Series memo")
struct SeriesMemoTests {
    @Test("requests remembered and looked up land in the same series as the shard's map puts them, each apart")
    func countsAsTheMapWould() throws {
        let table = try UpstreamClustersTests.table(endpoints: 2)
        let target = try UpstreamClustersTests.target(table)
        let telemetry = GatewayTelemetry(shardCount: 2)
        var memo = SeriesMemo()
        var other = SeriesMemo()
        func count(_ code: Int, endpoint: Int, grpc: String? = nil, memo: inout SeriesMemo, shard: Int = 0) {
            let series = RoutedSeries(target: target, endpoint: endpoint, code: code, flag: .noFlag, grpcStatus: grpc)
            telemetry.record(series, milliseconds: 1, requestBytes: 0, responseBytes: 0, shard: shard, memo: &memo) {
                var key = TrafficKey(cluster: target.cluster, endpoint: target.cluster.endpoints[endpoint], responseCode: code, responseFlags: .noFlag)
                key.grpcStatus = grpc
                return key
            }
        }
        // Three series on one connection: more than it remembers, so some are found again in the shard's map.
        for code in [200, 200, 503, 200, 404, 503, 200, 200] { count(code, endpoint: 0, memo: &memo) }
        count(200, endpoint: 1, memo: &memo)
        count(200, endpoint: 0, grpc: "14", memo: &memo)
        count(200, endpoint: 0, grpc: "14", memo: &memo)
        // Another connection on another shard: its own memo, the same series.
        count(200, endpoint: 0, memo: &other, shard: 1)
        // The two endpoints carry the same labels, so their requests share a series, as the map would have it.
        let series = telemetry.snapshot().series
        func requests(_ code: Int, grpc: String? = nil) -> Int? {
            series.first { $0.key.responseCode == code && $0.key.grpcStatus == grpc }?.value.requests
        }
        #expect(requests(200) == 7)
        #expect(requests(503) == 2)
        #expect(requests(404) == 1)
        #expect(requests(200, grpc: "14") == 2)
        #expect(series.count == 4)
        #expect(series.values.reduce(0) { $0 + $1.requests } == 12)
    }
}
