import SerinTesting
import Testing

/// Values out of range on the command line are usage errors that name the option: never a crash (a port past
/// 65535, a duration past what the clock holds, more threads than descriptors).
@Suite("command-line values out of range", .timeLimit(.minutes(2)))
struct CommandArgumentTests {
    @Test(
        "each is refused before anything starts, with exit status 64 and the option named",
        arguments: [
            (["status", "--server", "http://127.0.0.1:99999"], #"--server takes http://HOST:PORT, got "http://127.0.0.1:99999""#),
            (["status", "--server", "http://127.0.0.1:9900#top"], #"--server takes http://HOST:PORT, got "http://127.0.0.1:9900#top""#),
            (["demo-app", "--latency", "9999999999999999999ms"], "--latency"),
            (["promote", "web", "--timeout", "1e300s"], "--timeout"),
            (["gateway", "-f", "examples/seed", "--threads", "100000"], "--threads must be 1-256"),
            (["demo", "--threads", "0"], "--threads must be 1-256"),
        ]
    )
    func refused(arguments: [String], message: String) async throws {
        let result = try await SerinProcess.run(arguments, timeout: .seconds(30))
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
    }
}
