import Foundation
import SerinCore
import SerinListener
import SerinTesting
import Testing

/// `--log-format` and `--log-level` on a real `serin up`: what a log pipeline and an operator read.
@Suite("log format and level", .timeLimit(.minutes(2)))
struct LogFormatTests {
    /// The output's lines that are log lines, not a manifest file's diagnostics (with text logs, those go to
    /// stderr as `path:line:column: warning: message`).
    static func logLines(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { !$0.contains(": warning: ") }
    }

    static func jsonObjects(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map { line in
            try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
    }

    /// The seed served by two backends, with a Canary whose first step is at once and second a minute later.
    static func withSeed(_ body: (URL, TestBackends) async throws -> Void) async throws {
        let backends = TestBackends(threads: 1)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let directory = try UpCommandTests.manifestDirectory(
            v1: v1.port, v2: v2.port, canary: SeedManifests.canary(interval: "1m", stepWeights: [20, 60], progressDeadline: "2m")
        )
        try await body(directory, backends)
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("--log-format json: every line is a JSON object; a rollout event names its Canary, phase and weight; SIGTERM exits 0")
    func jsonLines() async throws {
        try await Self.withSeed { directory, _ in try await Self.checkJSONLines(directory) }
    }

    static func checkJSONLines(_ directory: URL) async throws {
        let (up, _, _) = try await UpCommandTests.launchOnFreePorts(
            directory, state: directory.appendingPathComponent("state.sqlite").path, extra: ["--log-format", "json"]
        )
        #expect(await up.waitForOutput("advance canary weight to 20%", timeout: .seconds(30)), "\(up.printed)")
        up.signal(SIGTERM)
        let status = await up.waitForExit()
        #expect(status == 0, "\(up.printed)")
        // Every line, the manifests' warnings too.
        let objects = try jsonObjects(await up.outputText())
        #expect(objects.allSatisfy { $0["time"] is String && $0["level"] is String && $0["logger"] as? String == "serin.up" })
        let step = try #require(objects.first { ($0["message"] as? String) == "web: advance canary weight to 20%" }, "\(objects)")
        #expect(step["level"] as? String == "info")
        #expect(step["canary"] as? String == "default/web")
        #expect(step["phase"] as? String == "Progressing")
        #expect(step["canaryWeight"] as? String == "20")
        #expect(objects.last?["message"] as? String == "serin up: stopped")
    }

    @Test("--log-format json: a manifest's problems and the error that stops the command are JSON lines too, each problem's place in file, line and column fields")
    func jsonStartupProblems() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("routes.yaml").path
        try """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web}
            spec:
              hosts: [web]
              gateways: [web-gateway]
              http:
              - route:
                - destination: {host: web-v1}
                  weight: lots
            """.write(toFile: file, atomically: true, encoding: .utf8)
        for command in ["gateway", "up"] {
            let result = try await SerinProcess.run([command, "-f", file, "--log-format", "json", "--admin", "127.0.0.1:0"])
            #expect(result.status == 1, "\(command): \(result)")
            #expect(result.stdout.isEmpty || !result.stdout.contains("listening"), "\(command) served: \(result)")
            let objects = try Self.jsonObjects(result.stdout + result.stderr)
            let problem = try #require(objects.first { $0["level"] as? String == "error" }, "\(command): \(objects)")
            #expect(problem["logger"] as? String == "serin.\(command)")
            #expect(problem["file"] as? String == file)
            #expect(problem["line"] as? String == "10")
            #expect(problem["column"] as? String == "15")
            #expect((problem["message"] as? String)?.contains("weight") == true, "\(problem)")
        }
        // Nothing wrong in the file, but nothing to serve: the error that stops `serin up` is a JSON line.
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["up", "-f", file, "--log-format", "json", "--admin", "127.0.0.1:0"])
        #expect(result.status == 1, "\(result)")
        let objects = try Self.jsonObjects(result.stdout + result.stderr)
        #expect(objects.contains { $0["level"] as? String == "warning" && $0["file"] as? String == file }, "\(objects)")
        let stop = try #require(objects.last, "\(result)")
        #expect(stop["level"] as? String == "error")
        #expect((stop["message"] as? String)?.hasPrefix("nothing to serve: ") == true, "\(stop)")
    }

    @Test("--log-level warning leaves out the info lines: where it listens, each step, stopping")
    func levelWarning() async throws {
        try await Self.withSeed { directory, backends in try await Self.checkLevelWarning(directory, backends: backends) }
    }

    static func checkLevelWarning(_ directory: URL, backends: TestBackends) async throws {
        let adminPort = try await backends.freePort()
        let gatewayPort = try await backends.freePort()
        let up = try SerinProcess.launch(
            UpCommandTests.upArguments(directory, gatewayPort: gatewayPort, adminPort: adminPort, state: directory.appendingPathComponent("state.sqlite").path)
                + ["--log-level", "warning"]
        )
        _ = try await UpCommandTests.waitForStatus(adminPort: adminPort, group: backends) { $0.canaryWeight == 20 }
        up.signal(SIGTERM)
        let status = await up.waitForExit()
        #expect(status == 0, "\(up.printed)")
        let lines = logLines(await up.outputText())
        #expect(lines.isEmpty, "\(lines)")
    }
}
