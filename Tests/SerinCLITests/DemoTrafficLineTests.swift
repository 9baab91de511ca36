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
        try await Task.sleep(for: .milliseconds(400))
        await load.stop()
        let failed = load.failuresCausedByProxy.count
        #expect(failed > 0)
        #expect(load.counts.total == failed)
        #expect(DemoCommand.trafficLine(load.counts, proxyFailures: failed) == "traffic: \(failed) requests — 0 answered 500 by the app, \(failed) failed by Serin")
        await backends.shutdown()
    }
}
