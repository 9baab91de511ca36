import NIOCore
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// How the gateway ends a connection it closes: the client gets the last answer whole, whatever it sent after it.
@Suite("Gateway closing connections", .timeLimit(.minutes(1)))
struct GatewayCloseTests {
    /// A request the gateway refuses with 400: a control byte in a field value.
    static let refused = Array("GET / HTTP/1.1\r\nhost: web\r\nx-bad: a\u{01}b\r\n\r\n".utf8)
    /// The refused request with bytes behind it the gateway never reads as a request: what a client pipelined, or the
    /// rest of a refused upload.
    static let refusedThenMore = refused + [UInt8](repeating: UInt8(ascii: "x"), count: 65_536)

    @Test("a refused request's 400 reaches a client that reads late, with bytes unread behind it: a close (FIN), not a reset")
    func refusalSurvivesUnreadBytes() async throws {
        try await GatewayProxyTests.withSeedGateway { _, port, _ in
            for _ in 0..<3 {
                let client = try BlockingSocketClient(port: port)
                try client.send(Self.refusedThenMore)
                // The client reads only once the gateway has ended its side: with a plain close, the unread bytes make
                // the gateway's socket send a reset, and the client's read finds the connection reset, answer lost.
                #expect(client.waitForServerEnd())
                let (bytes, ending) = client.readToEnd()
                let text = String(decoding: bytes, as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text.prefix(200))")
                #expect(text.contains("connection: close\r\n"))
                #expect(ending == .closed)
            }
        }
    }

    @Test("a client that never closes its side is closed by the gateway once the linger timeout passes")
    func lingerEnds() async throws {
        try await GatewayProxyTests.withSeedGateway { gateway, port, _ in
            let client = try BlockingSocketClient(port: port)
            try client.send(Self.refused)
            #expect(client.waitForServerEnd())
            // The gateway has half-closed and reads on; the client sends more and never closes.
            try client.send(Array("bytes the gateway drops\r\n".utf8))
            #expect(await eventually(.seconds(5)) { gateway.openConnectionCount == 0 }, "the gateway still holds the connection")
            withExtendedLifetime(client) {}
        }
    }

    @Test("the rest of a head that timed out (408), sent while the gateway lingers, is dropped: nothing is routed")
    func timedOutHeadIsNotServed() async throws {
        var limits = GatewayLimits.default
        limits.requestHeaderTimeout = .milliseconds(500)
        try await GatewayProxyTests.withSeedGateway(limits: limits) { gateway, port, _ in
            let client = try BlockingSocketClient(port: port)
            try client.send(Array("GET / HTTP/1.1\r\n".utf8))
            #expect(client.waitForServerEnd(), "no 408 and close")
            // The head completes after the 408: the gateway, still reading to linger, must not take it as a request.
            try client.send(Array("host: web\r\n\r\n".utf8))
            let text = String(decoding: client.readToEnd().bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text.prefix(200))")
            // Once the connection is gone, anything it had routed would have been answered and counted.
            #expect(await eventually(.seconds(5)) { gateway.openConnectionCount == 0 })
            let routed = gateway.telemetry.snapshot().series.values.reduce(0) { $0 + $1.requests }
            #expect(routed == 0, "a request reached the routes after its 408")
            withExtendedLifetime(client) {}
        }
    }
}
