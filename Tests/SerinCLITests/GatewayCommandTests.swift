import Foundation
import NIOCore
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// `serin gateway` as a process: what a user sees when they stop it.
@Suite("serin gateway", .timeLimit(.minutes(2)))
struct GatewayCommandTests {
    @Test("SIGTERM drains: the request in flight gets its whole answer, new connections are refused, exit status 0")
    func sigtermDrains() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1", latency: .milliseconds(800))
        let v2 = try await backends.start("v2")
        let directory = try SerinProcess.temporaryDirectory()
        for source in SeedManifests.sources(v1: v1.port, v2: v2.port) {
            try source.text.write(to: directory.appendingPathComponent((source.path as NSString).lastPathComponent), atomically: true, encoding: .utf8)
        }
        let gatewayPort = try await backends.freePort()
        let adminPort = try await backends.freePort()
        let gateway = try SerinProcess.launch([
            "gateway", "-f", directory.path, "--port-offset", String(gatewayPort - 80), "--admin", "127.0.0.1:\(adminPort)",
            "--threads", "1", "--drain-timeout", "10",
        ])
        var client: RawConnection?
        let deadline = ContinuousClock.now + .seconds(30)
        while client == nil, ContinuousClock.now < deadline {
            client = try? await RawConnection.connect(port: gatewayPort, group: backends.group)
            if client == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let busy = try #require(client, "serin gateway did not listen on \(gatewayPort)")
        try await busy.send("GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        try await Task.sleep(for: .milliseconds(200))
        gateway.signal(SIGTERM)
        let status = await gateway.waitForExit()
        #expect(status == 0)
        #expect(await busy.waitForClose())
        #expect(busy.received.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(busy.received.prefix(200))")
        #expect(busy.received.contains("This is v1"))
        let output = await gateway.outputText()
        #expect(output.contains("draining for up to 10.0s"), "\(output)")
        #expect(output.contains("serin gateway: stopped\n"), "\(output)")
        #expect((try? await RawConnection.connect(port: gatewayPort, group: backends.group)) == nil)
        await busy.close()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}
