import Foundation
import SerinController
import SerinCore
import SerinListener
import SerinTesting
import Testing

/// The admin token from the command line: `serin up`/`serin gateway` refuse an open listener beyond
/// loopback, and the steering commands send the token they are given.
@Suite("Admin token", .timeLimit(.minutes(3)))
struct AdminTokenTests {
    @Test("serin up and serin gateway bound beyond loopback without a token exit 1 naming --admin-token-file and SERIN_ADMIN_TOKEN",
          arguments: ["up", "gateway"])
    func refusesOpenListener(command: String) async throws {
        let result = try await SerinProcess.run([command, "-f", "examples/seed", "--port-offset", "0", "--admin", "0.0.0.0:0", "--threads", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: the admin listener on 0.0.0.0:0 is reachable from other machines"), "\(result.stderr)")
        #expect(result.stderr.contains("--admin-token-file PATH or set SERIN_ADMIN_TOKEN"))
        #expect(!result.stdout.contains("listening on"), "\(result.stdout)")
    }

    @Test("serin up refuses an admin listener beyond loopback without a token before it says it serves anything")
    func refusesBeforeServing() async throws {
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let result = try await SerinProcess.run(
            ["up", "-f", "examples/seed", "--port-offset", "0", "--admin", "0.0.0.0:0", "--threads", "1", "--state", state], timeout: .seconds(30))
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: the admin listener on 0.0.0.0:0 is reachable from other machines"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("serving"), "\(result.stdout)\(result.stderr)")
    }

    @Test("a SERIN_ADMIN_TOKEN that is set but empty is said to be so where a token is needed, not reported as missing",
          arguments: ["", "  "])
    func emptyEnvironmentToken(value: String) async throws {
        let empty = ["SERIN_ADMIN_TOKEN": value]
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let open = try await SerinProcess.run(
            ["up", "-f", "examples/seed", "--port-offset", "0", "--admin", "0.0.0.0:0", "--threads", "1", "--state", state],
            environment: empty, timeout: .seconds(30))
        #expect(open.status == 1)
        #expect(open.stderr.contains(
            "error: SERIN_ADMIN_TOKEN is set but empty, so there is no admin token, and the admin listener on 0.0.0.0:0 is reachable from other machines"),
            "\(open.stderr)")
        let reads = try await SerinProcess.run(
            ["gateway", "-f", "examples/seed", "--admin", "127.0.0.1:0", "--admin-read-requires-token"], environment: empty, timeout: .seconds(30))
        #expect(reads.status != 0 && reads.status != 1, "a usage error: \(reads.status)")
        #expect(reads.stderr.contains(
            "--admin-read-requires-token needs a token: SERIN_ADMIN_TOKEN is set but empty; pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN"),
            "\(reads.stderr)")
    }

    @Test("--admin-read-requires-token without a token is refused before anything starts")
    func readTokenNeedsToken() async throws {
        let result = try await SerinProcess.run(["gateway", "-f", "examples/seed", "--admin", "127.0.0.1:0", "--admin-read-requires-token"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--admin-read-requires-token needs a token: pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN"),
                "\(result.stderr)")
    }

    @Test("an empty or missing token file is a clear error, not an open API")
    func badTokenFile() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let empty = directory.appendingPathComponent("empty-token").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["gateway", "-f", "examples/seed", "--admin", "127.0.0.1:0", "--admin-token-file", empty])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--admin-token-file \(empty) is empty; expected the token on its first line"), "\(result.stderr)")
        let missing = try await SerinProcess.run(["status", "--admin-token-file", directory.appendingPathComponent("nope").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read --admin-token-file"), "\(missing.stderr)")
    }

    @Test("serin pause sends the token from --admin-token-file; without it pause and apply report the 401 with the way to fix it")
    func steeringSendsToken() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let directory = try UpCommandTests.manifestDirectory(
            v1: v1.port, v2: v2.port, canary: SeedManifests.canary(interval: "60s", stepWeights: [25, 50, 75], progressDeadline: "5m")
        )
        let tokenFile = directory.appendingPathComponent("admin-token").path
        try "correct-horse-battery\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let (up, adminPort, gatewayPort) = try await UpCommandTests.launchOnFreePorts(
            directory, state: directory.appendingPathComponent("state.sqlite").path, extra: ["--admin-token-file", tokenFile]
        )
        let server = "http://127.0.0.1:\(adminPort)"
        let load = SerinDemoLoad(port: gatewayPort, backends: backends)
        _ = try await UpCommandTests.waitForStatus(adminPort: adminPort, group: backends) { $0.canaryWeight == 25 }

        let refused = try await SerinProcess.run(["pause", "web", "--server", server])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("POST /canaries/web/pause needs the admin token"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--admin-token-file PATH or set SERIN_ADMIN_TOKEN"))
        let apply = try await SerinProcess.run(["apply", "-f", directory.appendingPathComponent("test-canary.yaml").path, "--server", server])
        #expect(apply.status == 1)
        #expect(apply.stderr.contains("error: POST /apply needs the admin token"), "\(apply.stderr)")
        #expect(apply.stderr.contains("(pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN)"))
        let paused = try await SerinProcess.run(["pause", "web", "--server", server, "--admin-token-file", tokenFile])
        #expect(paused.status == 0, "\(paused.stderr)")
        #expect(paused.stdout.contains("canary/web paused: Paused"))

        await up.kill(SIGTERM)
        await load.stop()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}
