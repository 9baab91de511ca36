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
            (["up", "-f", "examples/seed", "--state", ""], "--state takes the path of the SQLite state file, got an empty one"),
            (["history", ""], #"a Canary is named NAME or NAMESPACE/NAME, each lowercase letters, digits, '-' and '.' (web, shop/web), got """#),
            (["pause", "we b"], #"got "we b""#),
            (["status", "web?x=1"], #"got "web?x=1""#),
            (["promote", "shop/web/x"], #"got "shop/web/x""#),
            // A negative number after its option is the option's value, not another option: the range check says so.
            (["simulate", "-f", "examples/canary/web-canary.yaml", "--rps", "-10"], "--rps must be above 0, got -10.0"),
            (["gateway", "-f", "examples/seed", "--port-offset", "-70000"], "--port-offset must be within ±65535, got -70000"),
            // Spans of time take seconds or a manifest's duration (1m, 500ms); the range is checked either way.
            (["gateway", "-f", "examples/seed", "--min-drain-duration", "2h"], "--min-drain-duration must be 0-3600 seconds, got 7200.0s"),
            (["up", "-f", "examples/seed", "--drain-timeout", "3x"], "The value '3x' is invalid for '--drain-timeout <seconds>'"),
            // Manifests given as `serin validate` takes them, without -f: the error says the command that was meant.
            (["apply", "examples/seed/web-gateway-virtualservice.yaml"], "give manifests with -f FILE|DIR (did you mean -f examples/seed/web-gateway-virtualservice.yaml?)"),
            (["simulate", "examples/canary/web-canary.yaml"], "give manifests with -f FILE|DIR (did you mean -f examples/canary/web-canary.yaml?)"),
            (["up", "--state", "/tmp/serin-state.sqlite"], "give manifests with -f FILE|DIR (for example: -f examples/seed)"),
            // HOST:PORT options say what they take, where ArgumentParser says only "invalid".
            (["gateway", "-f", "examples/seed", "--mesh", "15001"], "expected HOST:PORT, got a port alone: 15001; say 127.0.0.1:15001"),
            (["up", "-f", "examples/seed", "--admin", "127.0.0.1:99999"], "expected a port from 0 to 65535 after the colon in HOST:PORT, got 99999"),
            (["controller", "--admin", "localhost"], #"expected HOST:PORT (e.g. 127.0.0.1:15001), got "localhost""#),
            // The mesh listener's workload: labels as kubectl writes them, and only with the mesh.
            (["gateway", "-f", "examples/mesh", "--mesh", ":0", "--mesh-labels", "app=reviews,version"],
             #"label 2 of "app=reviews,version" is "version", with no '='"#),
            (["gateway", "-f", "examples/mesh", "--mesh", ":0", "--mesh-labels", "app=-reviews"], #"value "-reviews" is not a label value"#),
            (["up", "-f", "examples/mesh", "--mesh", ":0", "--mesh-labels", "a=1,a=2"], #"key "a" is given twice"#),
            (["gateway", "-f", "examples/mesh", "--mesh", ":0", "--mesh-namespace", "Shop"], #"--mesh-namespace must be a Kubernetes namespace"#),
            (["gateway", "-f", "examples/mesh", "--mesh-labels", "app=productpage"], "--mesh-labels and --mesh-namespace say whose sidecar the mesh listener is: they need --mesh HOST:PORT"),
            (["route", "-f", "examples/mesh", "--mesh-labels", "app=productpage"], "they need --mesh"),
            (["gateway", "-f", "examples/mesh", "--locality", "us-east1//rack4"], #"expected region, region/zone or region/zone/subzone (us-east1/us-east1-b), got "us-east1//rack4""#),
        ]
    )
    func refused(arguments: [String], message: String) async throws {
        let result = try await SerinProcess.run(arguments, timeout: .seconds(30))
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
    }
}
