import NIOCore
import NIOHTTP2
import NIOPosix
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// A drain's graceful GOAWAY on HTTP/2 client connections, end to end: a NIOHTTP2 client, a backend that holds its
/// answers, and the gateway shutting down between them.
@Suite("HTTP/2 drain with GOAWAY", .timeLimit(.minutes(2)))
struct GatewayHTTP2DrainTests {
    /// A one-thread gateway routing everything to an `ObservedBackend`, and an h2c client connected to it; the body
    /// shuts the gateway down.
    static func withClient(_ body: (GatewayServer, HTTP2StreamClient, ObservedBackend) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = try await ObservedBackend.start(group: group)
        let gateway = GatewayServer(threads: 1, portMapping: .ephemeral)
        do {
            try await gateway.install(
                try RoutePolicyTests.table(routes: "  - route: [{destination: {host: web-v1}}]", services: ["web-v1": [backend.port]])
            )
            let client = try await HTTP2StreamClient.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: group)
            try await body(gateway, client, backend)
            await client.close()
        } catch {
            await gateway.shutdown()
            await backend.close()
            try? await group.shutdownGracefully()
            throw error
        }
        await backend.close()
        try await group.shutdownGracefully()
    }

    @Test(
        "a drain sends GOAWAY twice (2^31-1, then the last stream taken); open streams finish whole, then the connection closes",
        // One stream: its answer ended the drain, and the connection closed before the answer's frames were out.
        arguments: [1, 5]
    )
    func gracefulGoAway(streams: Int) async throws {
        try await Self.withClient { gateway, client, backend in
            backend.hold()
            let answers = Task {
                try await withThrowingTaskGroup(of: HTTP2StreamClient.Response.self) { tasks in
                    for index in 0..<streams { tasks.addTask { try await client.request(authority: "web.example.com", path: "/held/\(index)") } }
                    var all: [HTTP2StreamClient.Response] = []
                    for try await answer in tasks { all.append(answer) }
                    return all
                }
            }
            #expect(await eventually(.seconds(10)) { backend.heldRequests == streams })
            let started = ContinuousClock.now
            let shutdown = Task { await gateway.shutdown(drainTimeout: .seconds(20)) }
            // Both GOAWAYs arrive while the five streams are still waiting for their answers.
            #expect(await eventually(.seconds(10)) { client.goAways.count >= 2 })
            let goAways = client.goAways
            #expect(goAways.map(\.lastStreamID) == [Int(Int32.max), 2 * streams - 1], "\(goAways)")
            #expect(goAways.allSatisfy { $0.code == .noError }, "\(goAways)")
            #expect(!client.isClosed)
            // The client opens no stream after a GOAWAY: the request fails without reaching the gateway.
            await #expect(throws: (any Error).self) { _ = try await client.request(authority: "web.example.com", path: "/late") }
            backend.release()
            let answered = try await answers.value
            #expect(answered.map(\.status) == Array(repeating: 200, count: streams))
            #expect(answered.allSatisfy { $0.body == "ok\n" })
            #expect(await eventually(.seconds(10)) { client.isClosed })
            #expect(await shutdown.value == 0)
            #expect(ContinuousClock.now - started < .seconds(20))
            let series = gateway.telemetry.snapshot().series
            #expect(series.values.reduce(0) { $0 + $1.requests } == streams, "\(series.keys)")
            #expect(series.keys.allSatisfy { $0.responseCode == 200 }, "\(series.keys)")
            #expect(backend.requests == streams)
        }
    }

    @Test("a drain closes an HTTP/2 connection with no open stream after the GOAWAYs, well before the drain's deadline")
    func idleConnectionCloses() async throws {
        try await Self.withClient { gateway, client, _ in
            let answer = try await client.request(authority: "web.example.com", path: "/")
            #expect(answer.status == 200)
            let started = ContinuousClock.now
            let cut = await gateway.shutdown(drainTimeout: .seconds(20))
            #expect(cut == 0)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(await eventually(.seconds(5)) { client.isClosed })
            #expect(client.goAways.last?.lastStreamID == 1, "\(client.goAways)")
        }
    }

    @Test("a stream the client opens before it has read the drain's GOAWAY is refused with REFUSED_STREAM, never reaches the upstream and is not counted")
    func lateStreamRefused() async throws {
        try await Self.withClient { gateway, client, backend in
            #expect(try await client.request(authority: "web.example.com", path: "/before").status == 200)
            // A second connection on the gateway's one thread: its GOAWAY says the drain has told both.
            let watcher = try await HTTP2StreamClient.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: client.group)
            try await client.pauseReading()
            let shutdown = Task { await gateway.shutdown(drainTimeout: .seconds(20)) }
            #expect(await eventually(.seconds(10)) { !watcher.goAways.isEmpty })
            let late = Task { try await client.request(authority: "web.example.com", path: "/late") }
            // Read on only once the late stream's HEADERS are out, as a client that sent them before the GOAWAY reached it.
            #expect(await eventually(.seconds(10)) { client.requestsWritten == 2 }, "\(client.requestsWritten)")
            try await client.resumeReading()
            let answer = try await late.value
            #expect(answer.status == 0)
            #expect(answer.resetCode == .refusedStream, "\(answer)")
            #expect(client.goAways.first?.lastStreamID == Int(Int32.max), "\(client.goAways)")
            #expect(await eventually(.seconds(10)) { client.isClosed })
            #expect(await shutdown.value == 0)
            #expect(backend.requests == 1)
            let series = gateway.telemetry.snapshot().series
            #expect(series.values.reduce(0) { $0 + $1.requests } == 1, "\(series.keys)")
            await watcher.close()
        }
    }
}
