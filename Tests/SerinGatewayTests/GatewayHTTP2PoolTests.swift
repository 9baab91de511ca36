import NIOCore
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// A DestinationRule's `connectionPool.http` fields for HTTP/2 on the real gateway: `http2MaxRequests` and
/// `useClientProtocol`, with HTTP/1 and HTTP/2 clients on 127.0.0.1.
@Suite("DestinationRule HTTP/2 pool settings on the gateway", .timeLimit(.minutes(2)))
struct GatewayHTTP2PoolTests {
    @Test("http2MaxRequests 2: two requests in flight, over HTTP/1 and HTTP/2 alike; the third gets 503 UO at once, and the next after them 200")
    func maxRequests() async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        backend.hold()
        let table = try TrafficPolicyTests.table("    connectionPool: {http: {http2MaxRequests: 2}}", backend: backend.port)
        try await RoutePolicyTests.withGateway(table, group: backends, threads: 2) { gateway, http1 in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let http2 = try await HTTP2StreamClient.connect(port: port, group: backends.group)
            async let first = http1.send(.GET, "/", timeout: .seconds(20))
            async let second = http2.request(authority: "web.example.com", path: "/")
            #expect(await eventually(.seconds(20)) { backend.heldRequests == 2 })
            let third = try await http2.request(authority: "web.example.com", path: "/")
            #expect(third.status == 503)
            #expect(third.body.contains("2 requests are already in flight (http2MaxRequests)"), "\(third.body)")
            #expect(third.body.contains("outbound|80||web-v1-service"), "\(third.body)")
            #expect(backend.requests == 2)
            backend.release()
            #expect(try await first.status == 200)
            #expect(try await second.status == 200)
            // Both finished: the limit admits again.
            #expect(try await http2.request(authority: "web.example.com", path: "/").status == 200)
            #expect(RoutePolicyTests.flags(gateway) == ["200 -", "503 UO"])
            await http2.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test(
        "useClientProtocol: an HTTP/2 request goes upstream over HTTP/2 and an HTTP/1 one over HTTP/1; without it the port's HTTP/1 serves both",
        arguments: [true, false]
    )
    func clientProtocol(useClientProtocol: Bool) async throws {
        let backends = TestBackends()
        let backend = try await ProtocolReportingBackend.start(group: backends.group)
        let table = try TrafficPolicyTests.table("    connectionPool: {http: {useClientProtocol: \(useClientProtocol)}}", backend: backend.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, http1 in
            let http2 = try await HTTP2StreamClient.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
            for _ in 0..<3 {
                #expect(try await http1.send(.GET, "/").bodyText == "HTTP/1.1")
                let overHTTP2 = try await http2.request(authority: "web.example.com", path: "/")
                #expect(overHTTP2.status == 200)
                #expect(overHTTP2.body == (useClientProtocol ? "HTTP/2" : "HTTP/1.1"))
            }
            #expect(await gateway.http2UpstreamConnectionCount() == (useClientProtocol ? 1 : 0))
            await http2.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test(
        "maxConcurrentStreams 2: four HTTP/2 requests at once to one endpoint take two upstream connections; without it one carries all",
        arguments: [2, nil] as [Int?]
    )
    func maxConcurrentStreams(cap: Int?) async throws {
        let backends = TestBackends()
        let backend = try await ProtocolReportingBackend.start(group: backends.group, delay: .milliseconds(300))
        let streams = cap.map { ", maxConcurrentStreams: \($0)" } ?? ""
        let table = try TrafficPolicyTests.table("    connectionPool: {http: {h2UpgradePolicy: UPGRADE\(streams)}}", backend: backend.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, _ in
            let http2 = try await HTTP2StreamClient.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
            let bodies = try await withThrowingTaskGroup(of: String.self) { tasks in
                for _ in 0..<4 { tasks.addTask { try await http2.request(authority: "web.example.com", path: "/").body } }
                var all: [String] = []
                for try await body in tasks { all.append(body) }
                return all
            }
            #expect(bodies == Array(repeating: "HTTP/2", count: 4))
            #expect(backend.acceptedConnections == (cap == nil ? 1 : 2))
            await http2.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("tcp.maxConnections 2 counts HTTP/2 connections: six requests at once with maxConcurrentStreams 1 open two, share them, all answered, and /metrics shows the two")
    func maxConnectionsCountsHTTP2Connections() async throws {
        let backends = TestBackends()
        let backend = try await ProtocolReportingBackend.start(group: backends.group, delay: .milliseconds(300))
        let pool = "    connectionPool: {tcp: {maxConnections: 2}, http: {h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 1}}"
        let table = try TrafficPolicyTests.table(pool, backend: backend.port)
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, _ in
            let http2 = try await HTTP2StreamClient.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for _ in 0..<6 { tasks.addTask { try await http2.request(authority: "web.example.com", path: "/").status } }
                var open = ""
                if await eventually(.seconds(10), { backend.acceptedConnections == 2 }) {
                    open = GatewayAdmin.metricsText(gateway).split(separator: "\n").first { $0.hasPrefix("serin_gateway_upstream_connections_active{") }.map(String.init) ?? ""
                }
                var all: [Int] = []
                for try await status in tasks { all.append(status) }
                #expect(open.hasSuffix(" 2"), "\(open)")
                return all
            }
            #expect(statuses == Array(repeating: 200, count: 6))
            #expect(backend.acceptedConnections == 2)
            await http2.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("tcp.maxConnectionDuration on an HTTP/2 upstream: a connection that old says GOAWAY and takes no new stream, so the next request opens another, while the stream it carries runs to its answer and the connection closes after it")
    func maxConnectionDurationDrainsHTTP2() async throws {
        let backends = TestBackends()
        let backend = try await ProtocolReportingBackend.start(group: backends.group, delay: .milliseconds(1200))
        let table = try TrafficPolicyTests.table(
            "    connectionPool: {tcp: {maxConnectionDuration: 500ms}, http: {h2UpgradePolicy: UPGRADE}}", backend: backend.port
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, first in
            async let early = first.send(.GET, "/", timeout: .seconds(20))
            #expect(await eventually(.seconds(10)) { backend.acceptedConnections == 1 })
            try await Task.sleep(for: .milliseconds(700))
            let second = try await TrafficPolicyTests.client(gateway, backends)
            let late = try await second.send(.GET, "/", timeout: .seconds(20))
            #expect(late.status == 200 && late.bodyText == "HTTP/2")
            #expect(backend.acceptedConnections == 2, "the request after maxConnectionDuration opened a connection of its own")
            // Each connection, retired while its stream ran (the backend answers after 1.2s), told the server it takes no
            // new stream.
            #expect(await eventually(.seconds(10)) { backend.goAwaysReceived == 2 }, "\(backend.goAwaysReceived) GOAWAYs")
            let earlyAnswer = try await early
            #expect(earlyAnswer.status == 200 && earlyAnswer.bodyText == "HTTP/2", "the retired connection carried its stream to the end")
            // Both close once their streams end.
            #expect(await eventually(.seconds(10)) { await gateway.http2UpstreamConnectionCount() == 0 })
            await second.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("tcp.maxConnectionDuration on an idle HTTP/2 upstream connection: at that age it says GOAWAY and closes")
    func maxConnectionDurationClosesIdleHTTP2() async throws {
        let backends = TestBackends()
        let backend = try await ProtocolReportingBackend.start(group: backends.group)
        let table = try TrafficPolicyTests.table(
            "    connectionPool: {tcp: {maxConnectionDuration: 300ms}, http: {h2UpgradePolicy: UPGRADE}}", backend: backend.port
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
            let answer = try await client.send(.GET, "/", timeout: .seconds(20))
            #expect(answer.status == 200 && answer.bodyText == "HTTP/2")
            #expect(await eventually(.seconds(10)) { backend.goAwaysReceived == 1 }, "\(backend.goAwaysReceived) GOAWAYs")
            #expect(await eventually(.seconds(10)) { await gateway.http2UpstreamConnectionCount() == 0 })
            #expect(try await client.send(.GET, "/", timeout: .seconds(20)).status == 200, "the next request opens a new connection")
            #expect(backend.acceptedConnections == 2)
        }
        await backend.close()
        await backends.shutdown()
    }
}
