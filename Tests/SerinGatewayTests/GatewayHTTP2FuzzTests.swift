import NIOCore
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// Seeded random and mutated HTTP/2 frames after a valid preface, thrown at the real gateway's plaintext port:
/// a connection whose frames are well delimited gets its closing PING answered or is closed (GOAWAY), none hangs;
/// byte-mutated sequences may leave a frame unfinished, but never crash the gateway; it keeps serving HTTP/1 and
/// HTTP/2 and every fuzz connection goes away.
@Suite("Gateway under HTTP/2 fuzzing", .timeLimit(.minutes(2)))
struct GatewayHTTP2FuzzTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The PING payload whose acknowledgement says the connection is still read and answered.
    static let pingPayload = Array("serinfuz".utf8)

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// A GET of / for host web, HPACK-encoded with static-table indices and one literal: a request the gateway routes.
    static let getHeaders: [UInt8] = [0x82, 0x86, 0x84, 0x41, 3] + Array("web".utf8)

    /// One frame: mostly well-formed kinds (HEADERS of a real request, DATA, SETTINGS, WINDOW_UPDATE, RST_STREAM,
    /// PRIORITY, PING, GOAWAY, CONTINUATION, unknown types) with random flags, streams and payloads.
    static func randomFrame(using random: inout SeededRandom) -> [UInt8] {
        let stream = UInt32([1, 3, 5, 2, 0, 7, 0x7FFF_FFFF].randomElement(using: &random)!)
        let junk = (0..<Int.random(in: 0...24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        switch Int.random(in: 0..<10, using: &random) {
        case 0, 1: return frame(type: 1, flags: [0x5, 0x4, 0x1, 0x0, 0x25].randomElement(using: &random)!, stream: stream, payload: getHeaders)
        case 2: return frame(type: 0, flags: UInt8.random(in: 0...1, using: &random), stream: stream, payload: junk)
        case 3: return frame(type: 4, flags: 0, stream: 0, payload: [0, 4, 0, 0, 0, UInt8.random(in: 0...255, using: &random)])
        case 4: return frame(type: 8, flags: 0, stream: stream, payload: [0, 0, UInt8.random(in: 0...255, using: &random), 1])
        case 5: return frame(type: 3, flags: 0, stream: stream, payload: [0, 0, 0, UInt8.random(in: 0...13, using: &random)])
        case 6: return frame(type: UInt8.random(in: 2...9, using: &random), flags: UInt8.random(in: 0...255, using: &random), stream: stream, payload: junk)
        case 7: return frame(type: 1, flags: 0x4, stream: stream, payload: junk)
        case 8: return frame(type: UInt8.random(in: 10...255, using: &random), flags: 0, stream: stream, payload: junk)
        default: return frame(type: 6, flags: 0, stream: 0, payload: Array(junk.prefix(8)) + Array(repeating: 0, count: max(0, 8 - junk.count)))
        }
    }

    /// Preface, the client's SETTINGS, one to eight random frames, and a PING to be answered.
    static func sequence(using random: inout SeededRandom) -> [UInt8] {
        var bytes = preface + frame(type: 4, flags: 0, stream: 0, payload: [])
        for _ in 0..<Int.random(in: 1...8, using: &random) { bytes += randomFrame(using: &random) }
        return bytes + frame(type: 6, flags: 0, stream: 0, payload: pingPayload)
    }

    /// A sequence with one to three bytes after the preface flipped, inserted or deleted: framing may break.
    static func mutated(using random: inout SeededRandom) -> [UInt8] {
        var bytes = sequence(using: &random)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let index = Int.random(in: preface.count..<bytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            default: bytes.remove(at: index)
            }
        }
        return bytes
    }

    @Test("random and mutated HTTP/2 frames after the preface: answered or closed, never a crash; HTTP/1 and HTTP/2 still served")
    func randomFrames() async throws {
        var random = SeededRandom.fromEnvironment(fallback: 16)
        try await GatewayLimitsTests.withRawClient { first, gateway, backends in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            var settledCount = 0
            for batch in 0..<6 {
                let cases = (0..<20).map { index in index % 2 == 0 ? Self.sequence(using: &random) : Self.mutated(using: &random) }
                let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { tasks in
                    for (index, bytes) in cases.enumerated() {
                        tasks.addTask {
                            let raw = try await RawConnection.connect(port: port, group: backends.group)
                            try? await raw.send(bytes: bytes)
                            // A PING's acknowledgement carries its payload back.
                            let settled = await eventually(.seconds(3)) { raw.isClosed || raw.received.contains("serinfuz") }
                            await raw.close()
                            return (index, settled)
                        }
                    }
                    var all: [(Int, Bool)] = []
                    for try await outcome in tasks { all.append(outcome) }
                    return all
                }
                for (index, settled) in outcomes {
                    if settled { settledCount += 1 }
                    let replay = "seed \(random.seed) batch \(batch) case \(index): \(cases[index].prefix(200))"
                    #expect(settled || index % 2 == 1, "a well-framed sequence was neither answered nor closed: \(replay)")
                }
            }
            #expect(settledCount >= 60, "only \(settledCount) of 120 sequences answered or closed")
            try await first.send(GatewayLimitsTests.get)
            #expect(await first.waitFor("This is v1"))
            let h2 = try await Curl.get("http://127.0.0.1:\(port)/", ["--http2-prior-knowledge"])
            #expect(h2.status == 200 && h2.body.contains("This is v1"), "\(h2.stderr)")
            let deadline = ContinuousClock.now + .seconds(5)
            while gateway.openConnectionCount > 1 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(gateway.openConnectionCount == 1)
        }
    }

    @Test("an HTTP/2 connection with no stream open closes after the idle timeout, as an idle HTTP/1 connection does")
    func idleConnectionCloses() async throws {
        var limits = GatewayLimits.default
        // Long enough that a loaded machine still delivers the request inside it.
        limits.idleTimeout = .seconds(3)
        try await GatewayLimitsTests.withRawClient(limits: limits) { _, gateway, backends in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            // Sent from the event loop as the connection opens: the idle clock runs from the accept, and a test task
            // starved past it between its connect and its send would find the connection closed before its request.
            let raw = try await RawConnection.connect(
                port: port, group: backends.group,
                sending: Self.preface + Self.frame(type: 4, flags: 0, stream: 0, payload: [])
                    + Self.frame(type: 1, flags: 0x5, stream: 1, payload: Self.getHeaders)
            )
            #expect(await raw.waitFor("This is v1"), "the request is answered first: \(raw.received)")
            #expect(await raw.waitForClose(timeout: .seconds(20)))
            await raw.close()
        }
    }

    @Test("an HTTP/2 connection whose requests keep coming, each after the last ended, outlives the idle timeout; once they stop it closes")
    func busyConnectionOutlivesIdleTimeout() async throws {
        var limits = GatewayLimits.default
        // Six times the requests' spacing: the event loop that sends them may lag under the whole suite, not that much.
        limits.idleTimeout = .seconds(3)
        try await GatewayLimitsTests.withRawClient(limits: limits) { _, gateway, backends in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            // 5 s of requests 0.5 s apart: no stream is open between them, never for as long as the timeout. They are
            // sent from the connection's event loop from the moment it is up, so a starved test task cannot space them
            // past the timeout, nor start them late.
            let client = try await HTTP2StreamClient.connect(
                port: port, requesting: .init(authority: "web", path: "/", every: .milliseconds(500)), group: backends.group)
            let ticker = try #require(client.requestTicker)
            #expect(await eventually(.seconds(30)) { ticker.results.count >= 10 }, "\(ticker.results)")
            let answers = await ticker.stop()
            for answer in answers {
                #expect((try? answer.get().status) == 200, "closed while requests kept coming: \(answer)")
            }
            #expect(await eventually(.seconds(10)) { client.isClosed }, "still open long after the last request")
            await client.close()
        }
    }

    @Test("a client that stops opening its stream's window holds the upstream: the gateway reads what the socket buffers hold of a flood, not all of it")
    func slowClientHoldsUpstream() async throws {
        let backends = TestBackends()
        let flood = try await FloodingBackend.start(group: backends.group, bodyBytes: SocketBuffers.floodBytes)
        try await GatewayLimitsTests.withRawClient(endpoint: flood.port) { _, gateway, _ in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let raw = try await RawConnection.connect(port: port, group: backends.group)
            // The default 64 KiB windows, never opened further: the client reads what it gets and grants no more.
            try await raw.send(
                bytes: Self.preface + Self.frame(type: 4, flags: 0, stream: 0, payload: [])
                    + Self.frame(type: 1, flags: 0x5, stream: 1, payload: Self.getHeaders)
            )
            #expect(await eventually(.seconds(20)) { flood.bodyBytesWritten > 0 })
            try await Task.sleep(for: .seconds(2))
            let held = flood.bodyBytesWritten
            try await Task.sleep(for: .seconds(1))
            #expect(flood.bodyBytesWritten == held, "the upstream is no longer read")
            #expect(held < SocketBuffers.ceiling, "\(held) bytes of the upstream's body were read for a client that took 64 KiB")
            await raw.close()
        }
        await flood.close()
        await backends.shutdown()
    }

    @Test("a client uploading to an upstream that stops reading is held by its stream's window: what the socket buffers hold goes out in 3 s, not all it could send")
    func stalledUpstreamHoldsUpload() async throws {
        let backends = TestBackends()
        let stalled = try await StalledBackend.start(group: backends.group)
        try await GatewayLimitsTests.withRawClient(endpoint: stalled.port) { _, gateway, _ in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let client = try await HTTP2StreamClient.connect(port: port, group: backends.group)
            let sent = try await client.upload(authority: "web", path: "/upload", for: .seconds(3))
            #expect(stalled.acceptedConnections == 1, "the upload was routed to the stalled upstream")
            // The stream's first window (1 MiB) goes out whatever the upstream does; more only as the upstream takes it.
            #expect(sent >= 1 << 20, "\(sent) bytes went out: less than the stream's first window")
            #expect(sent < SocketBuffers.ceiling, "\(sent) bytes of the upload were taken for an upstream that reads nothing")
            await client.close()
        }
        await stalled.close()
        await backends.shutdown()
    }

    @Test("a request over the gateway's limits (a long :path) is answered 414 on its stream with the reason, not cut")
    func refusedRequestIsAnswered() async throws {
        var limits = GatewayLimits.default
        limits.maxURIBytes = 16
        try await GatewayLimitsTests.withRawClient(limits: limits) { _, gateway, backends in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            let raw = try await RawConnection.connect(port: port, group: backends.group)
            // :method GET, :scheme http, :path of 40 bytes (a literal with the indexed name :path), :authority web.
            let headers: [UInt8] = [0x82, 0x86, 0x04, 40] + Array(("/" + String(repeating: "a", count: 39)).utf8) + [0x41, 3] + Array("web".utf8)
            try await raw.send(
                bytes: Self.preface + Self.frame(type: 4, flags: 0, stream: 0, payload: [])
                    + Self.frame(type: 1, flags: 0x5, stream: 1, payload: headers)
            )
            #expect(await raw.waitFor("limit"), "\(Array(raw.received.utf8))")
            await raw.close()
        }
    }
}
