import NIOPosix
@testable import SerinCLI
import SerinDemoApp
import SerinTesting
import Testing

/// The demo's closing traffic line, from a real `SteadyLoad`.
@Suite("serin demo's traffic line", .timeLimit(.minutes(1)))
struct DemoTrafficLineTests {
    @Test("requests that got no answer at all are counted among the requests and as failed by Serin, never as a negative count of the app's 500s")
    func unansweredRequestsCountOnce() async throws {
        let backends = TestBackends()
        // A port nothing listens on: every request fails to connect.
        let port = try await backends.freePort()
        let load = SteadyLoad()
        load.start(port: port, rate: 100, connections: 2, group: backends.group)
        // Until some requests have failed (a loaded machine may take longer than a fixed wait to send the first).
        #expect(await eventually(.seconds(20)) { load.failuresCausedByProxy.count > 0 })
        await load.stop()
        let failed = load.failuresCausedByProxy.count
        #expect(failed > 0)
        #expect(load.counts.total == failed)
        #expect(DemoCommand.trafficLine(load.counts, proxyFailures: failed) == "traffic: \(failed) requests — \(failed) failed by Serin")
        await backends.shutdown()
    }

    @Test("a version's 500s are counted under that version, its failures said on its part of the line, apart from what Serin failed")
    func versionFailuresCountUnderTheVersion() {
        var tally = VersionTally()
        for _ in 0..<7 { tally.add(status: 200, version: "v1", body: "v1") }
        for _ in 0..<2 { tally.add(status: 200, version: "v2", body: "v2") }
        for _ in 0..<3 { tally.add(status: 500, version: "v2", body: "v2 failed this request (injected error)") }
        tally.add(status: 503, version: nil, body: "no healthy upstream")
        #expect(DemoCommand.trafficLine(tally, proxyFailures: 1) == "traffic: 13 requests — v1 7, v2 5 (3 of them failed), 1 failed by Serin")
        // A version that only failed still has its own part.
        var failing = VersionTally()
        failing.add(status: 500, version: "v2", body: "")
        #expect(DemoCommand.trafficLine(failing, proxyFailures: 0) == "traffic: 1 requests — v2 1 (1 of them failed), 0 failed by Serin")
    }
}
