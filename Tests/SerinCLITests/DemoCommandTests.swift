import Foundation
import SerinHTTP
import SerinTesting
import Testing

/// `serin demo` as a newcomer runs it: real processes, real ports on 127.0.0.1.
@Suite("serin demo", .serialized)
struct DemoCommandTests {
    @Test("walks the seed's story 100/0 → 90/10 → 0/100 and ends with all traffic on v2")
    func walksTheSeedStory() async throws {
        let result = try await SerinProcess.run([
            "demo", "--port-offset", "21000", "--app-port-offset", "31000", "--admin", "127.0.0.1:0", "--requests", "800",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let observed = lines.filter { $0.contains("observed over") }
        #expect(observed.count == 3)
        #expect(observed.first?.contains("v1 800 (100.0%), v2 0 (0.0%), failed 0") == true)
        #expect(observed.last?.contains("v1 0 (0.0%), v2 800 (100.0%), failed 0") == true)
        // The 90/10 step's v2 share lies within three standard deviations of 10% (n = 800: ±25.5 requests).
        let middle = try #require(observed.dropFirst().first)
        let v2Count = try #require(Self.count(of: "v2", in: middle))
        let tolerance = 3 * (800 * 0.1 * 0.9).squareRoot()
        let deviation = abs(Double(v2Count) - 80)
        #expect(deviation <= tolerance, "\(middle)")
        #expect(result.stdout.contains("virtualservice/web-virtualservice configured"))
        #expect(result.stdout.contains("all traffic now on v2"))
    }

    @Test("reports a port already in use with the flag that picks another")
    func portInUse() async throws {
        let blocker = try await SimpleHTTPServer.start(
            group: TestBackends().group, host: "127.0.0.1", port: 22080
        ) { _ in .text("busy") }
        let result = try await SerinProcess.run([
            "demo", "--port-offset", "22000", "--app-port-offset", "32000", "--admin", "127.0.0.1:0",
        ])
        await blocker.close()
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:22080"))
        #expect(result.stderr.contains("address already in use"))
        #expect(result.stderr.contains("--port-offset"))
        #expect(!result.stderr.contains("Fatal error"))
    }

    static func count(of version: String, in line: String) -> Int? {
        guard let range = line.range(of: "\(version) ") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
