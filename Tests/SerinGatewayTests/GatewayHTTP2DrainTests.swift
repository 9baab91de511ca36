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

    @Test("a drain waits for an answer the client's flow-control window holds back: once the client opens it, the rest arrives, then the close")
    func answerHeldByClientWindow() async throws {
        try await Self.withClient { gateway, client, _ in
            let raw = try await RawConnection.connect(port: try #require(gateway.boundPort(forDeclared: 80)), group: client.group)
            typealias Fuzz = GatewayHTTP2FuzzTests
            // SETTINGS_INITIAL_WINDOW_SIZE 0: the answer's headers may come, not one byte of its body.
            try await raw.send(
                bytes: Fuzz.preface + Fuzz.frame(type: 4, flags: 0, stream: 0, payload: [0, 4, 0, 0, 0, 0])
                    + Fuzz.frame(type: 1, flags: 0x5, stream: 1, payload: Fuzz.getHeaders)
            )
            #expect(await eventually(.seconds(10)) { Self.frames(raw.receivedBytes).contains { $0.type == 1 && $0.stream == 1 } })
            let shutdown = Task { await gateway.shutdown(drainTimeout: .seconds(20)) }
            // The drain's PING acknowledged: the final GOAWAY names stream 1, which stays open for its body.
            #expect(await eventually(.seconds(10)) { Self.frames(raw.receivedBytes).contains { $0.type == 6 && $0.flags == 0 } })
            let ping = try #require(Self.frames(raw.receivedBytes).first { $0.type == 6 && $0.flags == 0 })
            try await raw.send(bytes: Fuzz.frame(type: 6, flags: 1, stream: 0, payload: ping.payload))
            #expect(await eventually(.seconds(10)) { Self.frames(raw.receivedBytes).filter { $0.type == 7 }.count == 2 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(!raw.isClosed, "closed with the answer's body still held by the client's window")
            #expect(!Self.frames(raw.receivedBytes).contains { $0.type == 0 })
            // WINDOW_UPDATE of stream 1 by 1 MiB: the body goes out, its stream ends, and only then the connection.
            try await raw.send(bytes: Fuzz.frame(type: 8, flags: 0, stream: 1, payload: [0, 0x10, 0, 0]))
            #expect(await raw.waitForClose(timeout: .seconds(10)))
            let frames = Self.frames(raw.receivedBytes)
            let body = frames.filter { $0.type == 0 && $0.stream == 1 }
            #expect(String(decoding: body.flatMap(\.payload), as: UTF8.self) == "ok\n", "\(frames.map(\.type))")
            #expect(body.last?.flags == 1, "the body's last frame ends the stream")
            let lastGoAway = try #require(frames.last { $0.type == 7 })
            #expect(Array(lastGoAway.payload.prefix(8)) == [0, 0, 0, 1, 0, 0, 0, 0], "GOAWAY(1, NO_ERROR)")
            #expect(await shutdown.value == 0, "no connection was cut at the deadline")
            await raw.close()
        }
    }

    /// The HTTP/2 frames in `bytes` (a server's: no preface), a partial one at the end left out.
    static func frames(_ bytes: [UInt8]) -> [(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8])] {
        var frames: [(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8])] = []
        var at = 0
        while at + 9 <= bytes.count {
            let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
            guard at + 9 + length <= bytes.count else { break }
            let stream = bytes[at + 5..<at + 9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            frames.append((bytes[at + 3], bytes[at + 4], stream, Array(bytes[at + 9..<at + 9 + length])))
            at += 9 + length
        }
        return frames
    }

    @Test("a drain closes an HTTP/2 connection with no open stream after the GOAWAYs, well before the drain's deadline")
    func idleConnectionCloses() async throws {
        try await Self.withClient { gateway, client, _ in
            let answer = try await client.request(authority: "web.example.com", path: "/")
            #expect(answer.status == 200)
            let started = ContinuousClock.now
            let cut = await gateway.shutdown(drainTimeout: .seconds(60))
            #expect(cut == 0)
            // Well before the 60 s deadline, with room for a test task starved for seconds before it reads the clock.
            #expect(ContinuousClock.now - started < .seconds(30))
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
