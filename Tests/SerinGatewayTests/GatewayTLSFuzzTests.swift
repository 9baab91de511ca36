import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinTesting
import Testing

/// TLS handshakes that stop halfway, thrown at an HTTPS port by the dozen: the gateway frees every one of them
/// within the handshake deadline (the header timeout) and keeps serving real clients throughout.
@Suite(
    "Gateway TLS under stalled handshakes", .enabled(if: TestCertificates.shouldRun, "openssl is not installed; CI runs this"),
    .timeLimit(.minutes(2))
)
struct GatewayTLSFuzzTests {
    /// A real ClientHello for `web.example.com`, made by Python's ssl module in memory (no connection).
    static func clientHello() async throws -> [UInt8] {
        let script = """
            import ssl
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            client = context.wrap_bio(incoming, outgoing, server_hostname="web.example.com")
            try:
                client.do_handshake()
            except ssl.SSLWantReadError:
                pass
            print(outgoing.read().hex())
            """
        let result = try await SerinProcess.run(["-c", script], program: URL(fileURLWithPath: "/usr/bin/python3"), timeout: .seconds(30))
        let hex = Array(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        #expect(hex.count > 100, "no ClientHello from python3: \(result.stderr)")
        return stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(decoding: hex[$0...$0 + 1], as: UTF8.self), radix: 16) }
    }

    @Test("partial ClientHellos, garbage after a record header, truncated records and handshakes abandoned after the ServerHello are all closed within the handshake deadline while real clients are served")
    func stalledHandshakes() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let hello = try await Self.clientHello()
        var random = SeededRandom.fromEnvironment(fallback: 16)
        let garbage = (0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }
        let cases: [(String, [UInt8])] = [
            ("half a ClientHello", Array(hello.prefix(hello.count / 2))),
            ("a record header and nothing more", Array(hello.prefix(5))),
            ("a truncated record header", [0x16, 0x03]),
            ("garbage after a valid record header", [0x16, 0x03, 0x01, 0x00, 0x40] + garbage),
            ("a whole ClientHello, then silence after the ServerHello", hello),
        ]
        var limits = GatewayLimits.default
        // Long enough that all 50 connections are accepted and counted before the first is cut, even when the test's
        // task, which opens them one by one, is starved for seconds by the rest of the suite (3 s was not: the first
        // ones were cut before the count was read).
        limits.requestHeaderTimeout = .seconds(10)
        let yaml = GatewayTLSTests.gateway(GatewayTLSTests.httpsServer(tls: "{mode: SIMPLE, serverCertificate: web.crt, privateKey: web.key}"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await GatewayTLSTests.withGateway(yaml, certificates: certificates, limits: limits) { gateway in
            let port = try #require(gateway.boundPort(forDeclared: 443))
            var stalled: [(String, RawConnection)] = []
            for (name, bytes) in cases {
                for _ in 0..<10 {
                    let raw = try await RawConnection.connect(port: port, group: group)
                    try? await raw.send(bytes: bytes)
                    stalled.append((name, raw))
                }
            }
            // Garbage is refused at once; the others wait for bytes that never come. (The gateway counts a
            // connection once it has accepted it, a moment after the client's connect returned.)
            #expect(await eventually(.seconds(5)) { gateway.openConnectionCount >= stalled.count - 10 }, "\(gateway.openConnectionCount)")
            // Served while the stalled handshakes hold their connections.
            let page = try await GatewayTLSTests.https("web.example.com", port: port, ca: certificates.ca.certificate)
            #expect(page.status == 200, "\(page.stderr)")
            // The idle timeout (60s) is far off: only the handshake deadline can free them this soon.
            #expect(await eventually(.seconds(30)) { gateway.openConnectionCount == 0 }, "\(gateway.openConnectionCount) still open")
            for (name, raw) in stalled {
                #expect(await raw.waitForClose(timeout: .seconds(5)), "\(name) was not closed")
                await raw.close()
            }
            let after = try await GatewayTLSTests.https("web.example.com", port: port, ca: certificates.ca.certificate)
            #expect(after.status == 200, "\(after.stderr)")
        }
        try await group.shutdownGracefully()
    }
}
