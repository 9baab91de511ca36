import NIOCore
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// Random and malformed HTTP thrown at the real gateway: every request gets an HTTP response or a
/// closed connection, none a hang; the gateway keeps serving and leaks no connection.
@Suite("Gateway under fuzzing", .timeLimit(.minutes(2)))
struct GatewayFuzzTests {
    static let bases: [[UInt8]] = [
        "GET / HTTP/1.1\r\nhost: web\r\nuser-agent: fuzz\r\naccept: */*\r\n\r\n",
        "POST /echo HTTP/1.1\r\nhost: web\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nhost: web\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /a/b?c=d&e=%20 HTTP/1.0\r\nhost: web:80\r\nconnection: keep-alive\r\n\r\n",
    ].map { Array($0.utf8) }
    /// On the mesh's listener: tunnels whose requests follow their CONNECT, and proxy requests in absolute form.
    static let meshBases: [[UInt8]] = [
        "CONNECT web-v1-service:80 HTTP/1.1\r\nhost: web-v1-service:80\r\n\r\nGET / HTTP/1.1\r\nhost: web-v1-service\r\n\r\n",
        "CONNECT web-v1-service:80 HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nhost: web-v1-service\r\ncontent-length: 5\r\n\r\nhello",
        "GET http://web-v1-service/a?b=c HTTP/1.1\r\nhost: web-v1-service\r\n\r\n",
    ].map { Array($0.utf8) }
    static let tokens: [[UInt8]] = [
        "\r\n", "\n", "\r", "\0", " ", ":", "\t", "HTTP/1.1", "HTTP/2.0", "content-length: 99999999999999999999\r\n",
        "transfer-encoding: chunked\r\n", "content-length: -1\r\n", "host:\r\n", "%", "\u{7f}", "\u{ff}", "GET", "\r\n\r\n",
        "x: " + String(repeating: "y", count: 70_000) + "\r\n",
    ].map { Array($0.utf8) }

    /// One to four random edits: bytes flipped, inserted, deleted; tokens spliced in; the request cut short.
    static func mutate(_ base: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var bytes = base
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            case 2: bytes.remove(at: index)
            case 3: bytes.insert(contentsOf: tokens.randomElement(using: &random)!, at: index)
            default: bytes = Array(bytes.prefix(index))
            }
        }
        // Nothing sent is an idle connection, not a request: the idle timeout's business.
        return bytes.isEmpty ? [base[0]] : bytes
    }

    /// Whether the request still says a body follows: the gateway may rightly wait for it.
    static func declaresBody(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self).lowercased()
        return text.contains("content-length") || text.contains("transfer-encoding") || text.contains("chunked")
    }

    @Test(
        "every mutated request gets an HTTP answer or a close; the gateway keeps serving and leaks nothing (on a Gateway port, and on the mesh's listener with CONNECT tunnels)",
        arguments: [false, true]
    )
    func mutatedRequests(inMesh: Bool) async throws {
        var random = SeededRandom.fromEnvironment(fallback: inMesh ? 43 : 42)
        var limits = GatewayLimits.default
        limits.requestHeaderTimeout = .milliseconds(500)
        try await GatewayLimitsTests.withRawClient(limits: limits) { first, gateway, backends in
            if inMesh { try await gateway.openMesh(host: "127.0.0.1", port: 0) }
            let port = try #require(inMesh ? gateway.meshAddress?.port : gateway.boundPort(forDeclared: 80))
            let bases = inMesh ? Self.meshBases : Self.bases
            var answered = 0
            for batch in 0..<8 {
                let cases = (0..<25).map { _ in Self.mutate(bases.randomElement(using: &random)!, using: &random) }
                let outcomes = try await withThrowingTaskGroup(of: (Int, Bool, String).self) { tasks in
                    for (index, bytes) in cases.enumerated() {
                        tasks.addTask {
                            let raw = try await RawConnection.connect(port: port, group: backends.group)
                            try? await raw.send(bytes: bytes)
                            let settled = await raw.waitForClose(timeout: .seconds(2)) || raw.received.hasPrefix("HTTP/1.")
                            let received = raw.received
                            await raw.close()
                            return (index, settled, received)
                        }
                    }
                    var all: [(Int, Bool, String)] = []
                    for try await outcome in tasks { all.append(outcome) }
                    return all
                }
                for (index, settled, received) in outcomes {
                    let replay = "seed \(random.seed) batch \(batch) case \(index): \(String(decoding: cases[index].prefix(300), as: UTF8.self).debugDescription)"
                    if !received.isEmpty {
                        answered += 1
                        #expect(received.hasPrefix("HTTP/1.1 ") || received.hasPrefix("HTTP/1.0 "), "\(received.prefix(100)) for \(replay)")
                    }
                    #expect(settled || Self.declaresBody(cases[index]), "neither answered nor closed: \(replay)")
                }
            }
            #expect(answered > 100, "only \(answered) of 200 mutated requests got an answer")
            // Still serving, and every fuzz connection is gone.
            try await first.send(GatewayLimitsTests.get)
            #expect(await first.waitFor("This is v1"))
            let deadline = ContinuousClock.now + .seconds(5)
            while gateway.openConnectionCount > 1 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(gateway.openConnectionCount == 1)
        }
    }
}
