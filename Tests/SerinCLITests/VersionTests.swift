import Foundation
import NIOHTTP1
import SerinServer
import SerinTesting
import Testing

/// Which Serin answers: `serin --version` and `/version` on the admin listener say the same release and commit.
@Suite("serin --version", .timeLimit(.minutes(2)))
struct VersionTests {
    @Test("--version prints the version and the commit it was built from, and /version answers the same")
    func versionEverywhere() async throws {
        let printed = try await SerinProcess.run(["--version"])
        #expect(printed.status == 0)
        let line = printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line == "serin \(SerinVersion.number) (build \(SerinVersion.build))", "\(line)")
        // Built from this checkout: the build is the commit's first 12 hex digits.
        #expect(SerinVersion.build.count == 12 && SerinVersion.build.allSatisfy(\.isHexDigit), "\(SerinVersion.build)")

        let backends = TestBackends()
        let port = try await backends.freePort()
        let up = try SerinProcess.launch(["up", "-f", "examples/seed", "-f", "examples/canary", "--admin", "127.0.0.1:\(port)", "--port-offset", "26000",
                                          "--state", try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path])
        defer { Task { await up.kill(); await backends.shutdown() } }
        var answer: SimpleHTTPClient.Response?
        for _ in 0..<100 where answer == nil {
            if let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group) {
                answer = try? await client.send(.GET, "/version")
                await client.close()
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let view = try JSONDecoder().decode(SerinVersion.View.self, from: Data(try #require(answer).body))
        #expect(view == SerinVersion.view)
    }
}
