import Foundation
import SerinTesting
import Testing

/// `serin demo-app` as a process: one version of the seed's page, stopped the way a container runtime stops it.
@Suite("serin demo-app", .timeLimit(.minutes(1)))
struct DemoAppCommandTests {
    @Test("SIGTERM closes the listener and exits 0, saying so")
    func sigtermStops() async throws {
        let backends = TestBackends()
        let port = try await backends.freePort()
        let app = try SerinProcess.launch(["demo-app", "--app-version", "v2", "--port", String(port)])
        #expect(await app.waitForOutput("serin demo-app: v2 on http://127.0.0.1:\(port)"), "\(app.printed)")
        let probe = try await RawConnection.connect(port: port, group: backends.group)
        await probe.close()
        app.signal(SIGTERM)
        #expect(await app.waitForExit() == 0, "\(app.printed)")
        let output = await app.outputText()
        #expect(output.contains("serin demo-app: stopping\n") && output.contains("serin demo-app: stopped\n"), "\(output)")
        #expect((try? await RawConnection.connect(port: port, group: backends.group)) == nil, "it no longer listens")
        await backends.shutdown()
    }
}
