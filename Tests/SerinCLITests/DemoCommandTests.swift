import Foundation
import SerinHTTP
import SerinTesting
import Testing

// Fixed ports stay below 32768, outside Linux's ephemeral range, so no client connection of a parallel
// test can be holding one of them.

/// `serin demo` as a newcomer runs it: real processes, real ports on 127.0.0.1, the example Canary.
@Suite("serin demo", .timeLimit(.minutes(5)))
struct DemoCommandTests {
    @Test("promotes the healthy v2 step by step and ends Succeeded with all traffic on v2")
    func healthyDemoSucceeds() async throws {
        let result = try await SerinProcess.run(
            ["demo", "--port-offset", "21000", "--app-port-offset", "1000", "--admin", "127.0.0.1:0"], timeout: .seconds(240)
        )
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for weight in [20, 40, 60, 80] {
            #expect(result.stdout.contains("web: advance canary weight to \(weight)%"))
        }
        #expect(result.stdout.contains("web: promotion completed"))
        #expect(result.stdout.contains("checked at 20%: request-duration"))
        #expect(result.stdout.contains("serin demo: Succeeded, 0% web-v1-service / 100% web-v2-service"))
        #expect(result.stdout.contains(", 0 failed by Serin"))
        // Not a terminal: plain timestamped progress lines, no cursor control.
        #expect(!result.stdout.contains("\u{1B}["))
    }

    @Test("rolls a faulty v2 back to v1, says why, and exits 1")
    func faultyDemoRollsBack() async throws {
        let result = try await SerinProcess.run(
            ["demo", "--faulty-canary", "--port-offset", "23000", "--app-port-offset", "2000", "--admin", "127.0.0.1:0"],
            timeout: .seconds(240)
        )
        #expect(result.status == 1)
        #expect(result.stdout.contains("web: halt: request-success-rate"), "\(result.stdout)")
        #expect(result.stdout.contains("web: rolled back: request-success-rate"))
        #expect(result.stdout.contains("serin demo: Failed, 100% web-v1-service / 0% web-v2-service"))
        #expect(result.stdout.contains(", 0 failed by Serin"))
    }

    @Test("reports a port already in use with the flag that picks another")
    func portInUse() async throws {
        let backends = TestBackends()
        let blocker = try await SimpleHTTPServer.start(group: backends.group, host: "127.0.0.1", port: 22080) { _ in .text("busy") }
        let result = try await SerinProcess.run([
            "demo", "--port-offset", "22000", "--app-port-offset", "3000", "--admin", "127.0.0.1:0",
        ])
        await blocker.close()
        await backends.shutdown()
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:22080"))
        #expect(result.stderr.contains("address already in use"))
        #expect(result.stderr.contains("--port-offset"))
        #expect(!result.stderr.contains("Fatal error"))
    }
}
