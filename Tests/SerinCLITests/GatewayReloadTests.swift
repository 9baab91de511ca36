import Foundation
import NIOCore
import NIOHTTP1
import SerinTesting
import Testing

/// `kill -HUP` on a running gateway, as nginx users send it: the manifests are read again and applied, and the
/// process goes on serving; before, SIGHUP's default action ended it on the spot.
@Suite("serin gateway on SIGHUP", .timeLimit(.minutes(2)))
struct GatewayReloadTests {
    private static func answer(port: Int, group: any EventLoopGroup) async -> String? {
        guard let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group) else { return nil }
        let response = try? await client.send(.GET, "/", headers: [("host", "web")])
        await client.close()
        return response?.bodyText
    }

    @Test("SIGHUP applies the changed files and the gateway goes on serving; files that do not validate change nothing and the log says where they are wrong")
    func sighupReloads() async throws {
        let backends = TestBackends(threads: 1)
        let directory = try SerinProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("gateway.yaml")
        try DirectAnswerGateway.manifests(answer: "first").write(to: file, atomically: true, encoding: .utf8)
        let port = try await backends.freePort()
        let admin = try await backends.freePort()
        let gateway = try SerinProcess.launch([
            "gateway", "-f", directory.path, "--port-offset", String(port - 80), "--admin", "127.0.0.1:\(admin)", "--threads", "1",
        ])
        #expect(await gateway.waitForOutput("serin gateway: admin on", timeout: .seconds(30)), "\(gateway.printed)")
        #expect(await Self.answer(port: port, group: backends.group) == "first")

        try DirectAnswerGateway.manifests(answer: "second").write(to: file, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        #expect(await gateway.waitForOutput("virtualservice/answer configured", timeout: .seconds(10)), "\(gateway.printed)")
        #expect(gateway.printed.contains("serin gateway: SIGHUP: applied \(directory.path): gateway/edge unchanged, "))
        #expect(await eventually(.seconds(5)) { await Self.answer(port: port, group: backends.group) == "second" })
        #expect(gateway.isRunning)

        // A weight that is not a number: refused with the file and line, and the last good routes stay.
        try DirectAnswerGateway.manifests(answer: "third").replacingOccurrences(of: "- directResponse", with: "- route: [{destination: {host: web}, weight: many}]\n    directResponse")
            .write(to: file, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        #expect(await gateway.waitForOutput("refused; nothing changed", timeout: .seconds(10)), "\(gateway.printed)")
        #expect(gateway.printed.contains("\(file.path):"), "\(gateway.printed)")
        #expect(await Self.answer(port: port, group: backends.group) == "second")
        #expect(gateway.isRunning)

        gateway.signal(SIGTERM)
        #expect(await gateway.waitForExit() == 0, "\(gateway.printed)")
        await backends.shutdown()
    }
}
