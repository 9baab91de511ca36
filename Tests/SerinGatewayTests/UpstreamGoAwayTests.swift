import NIOCore
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// An upstream HTTP/2 server that ends its connections with GOAWAY (nginx after `keepalive_requests`, a gRPC server
/// after `max_connection_age`): the streams it never processed are sent again, as Envoy under Istio's default
/// retries (`refused-stream`) sends them, and no new stream goes on the connection going away.
@Suite("upstream HTTP/2 GOAWAY")
struct UpstreamGoAwayTests {
    @Test(
        "nginx ending each HTTP/2 connection after 5 requests: 60 requests from 12 clients at once, half of them POSTs with a body, all get 200, none a 503, and only the requests it served are counted",
        .enabled(if: NginxServer.shouldRun, "nginx is not installed (apt-get install nginx); CI runs this")
    )
    func refusedStreamsAreSentAgain() async throws {
        let backends = TestBackends()
        let nginx = try await NginxServer.start(group: backends.group, http2: true, proxyProtocol: false, requestsPerConnection: 5)
        let table = try TrafficPolicyTests.table("    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}", backend: nginx.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, _ in
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let client = try await TrafficPolicyTests.client(gateway, backends)
                        var statuses: [Int] = []
                        for request in 0..<5 {
                            // A body held while its stream waits for a connection goes out with the request, however often it is sent.
                            let answer = try await request.isMultiple(of: 2)
                                ? client.send(.GET, "/", timeout: .seconds(20))
                                : client.send(.POST, "/", body: Array(repeating: UInt8(ascii: "b"), count: 1024), timeout: .seconds(20))
                            statuses.append(answer.status)
                            if answer.status != 200 { print("UpstreamGoAwayTests: \(answer.status) \(answer.bodyText)") }
                        }
                        await client.close()
                        return statuses
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(statuses.count == 60 && statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 }); nginx: \(nginx.errorLog)")
            // A stream nginx refused never reached it: counted once, by the attempt it served.
            let series = gateway.telemetry.snapshot().series
            #expect(
                series.values.reduce(0) { $0 + $1.requests } == 60 && series.keys.allSatisfy { $0.responseCode == 200 },
                "\(series.mapValues(\.requests)); nginx: \(nginx.errorLog)"
            )
        }
        nginx.stop()
        await backends.shutdown()
    }
}
