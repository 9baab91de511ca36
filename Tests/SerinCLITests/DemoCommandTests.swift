import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinListener
import SerinManifests
import SerinTesting
import Testing

// Fixed ports stay below 32768, outside Linux's ephemeral range, so no client connection of a parallel
// test can be holding one of them.

/// `serin demo` as a newcomer runs it: real processes, real ports on 127.0.0.1, the example Canary.
@Suite("serin demo", .timeLimit(.minutes(5)))
struct DemoCommandTests {
    @Test("promotes the healthy v2 step by step and ends Succeeded with all traffic on v2, run from outside the checkout")
    func healthyDemoSucceeds() async throws {
        // An empty directory: the seed and the Canary are the ones built into serin.
        let result = try await SerinProcess.run(
            ["demo", "--port-offset", "27000", "--app-port-offset", "9000", "--admin", "127.0.0.1:0"],
            in: try SerinProcess.temporaryDirectory(), timeout: .seconds(240)
        )
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for weight in [20, 40, 60, 80] {
            #expect(result.stdout.contains("web: advance canary weight to \(weight)%"))
        }
        #expect(result.stdout.contains("web: promotion completed"))
        #expect(result.stdout.contains("checked at 20%: request-duration"))
        #expect(result.stdout.contains("serin demo: Succeeded, 0% web-v1-service / 100% web-v2-service"))
        #expect(result.stdout.contains(", 0 failed by Serin"))
        // Not a terminal: plain timestamped progress lines, no cursor control, one when the rollout's state changes
        // (five states here: four steps and the end) or every 10 s, not one a second as the traffic numbers change.
        #expect(!result.stdout.contains("\u{1B}["))
        let progress = result.stdout.split(separator: "\n").filter { ($0.contains("] canary ") || $0.contains("] promoted: ")) && $0.contains(" · failed ") }
        #expect((5...10).contains(progress.count), "\(progress.count) progress lines:\n\(progress.joined(separator: "\n"))")
    }

    @Test("--write-manifests writes the seed and the Canary built into serin, as the repository has them, and never overwrites")
    func writesBuiltInManifests() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let result = try await SerinProcess.run(["demo", "--write-manifests", directory.path])
        #expect(result.status == 0, "\(result.stderr)")
        for folder in ["seed", "canary"] {
            let repository = SerinProcess.repositoryRoot.appendingPathComponent("examples/\(folder)")
            let expected = try FileManager.default.contentsOfDirectory(atPath: repository.path).filter { $0.hasSuffix(".yaml") }.sorted()
            let written = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path).sorted()
            #expect(written == expected)
            for name in expected {
                let original = try Data(contentsOf: repository.appendingPathComponent(name))
                #expect(try Data(contentsOf: directory.appendingPathComponent("\(folder)/\(name)")) == original, "\(folder)/\(name)")
            }
        }
        let again = try await SerinProcess.run(["demo", "--write-manifests", directory.path])
        #expect(again.status == 1)
        #expect(again.stderr.contains("never overwrites"), "\(again.stderr)")
    }

    @Test("--write-manifests to a place it cannot write says why in plain words; the faulty canary's shape without --faulty-canary, and an empty directory, are usage errors")
    func refusedDemoOptions() async throws {
        let file = try SerinProcess.temporaryDirectory().appendingPathComponent("a-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let notADirectory = try await SerinProcess.run(["demo", "--write-manifests", file.path])
        #expect(notADirectory.status == 1)
        #expect(notADirectory.stderr == "error: cannot write --write-manifests \(file.path): making \(file.path)/seed: not a directory\n", "\(notADirectory.stderr)")
        for (arguments, message) in [
            (["--canary-error-rate", "0.5"], "--canary-error-rate shapes the faulty canary: add --faulty-canary, or leave it out"),
            (["--canary-latency", "300ms"], "--canary-latency shapes the faulty canary: add --faulty-canary, or leave it out"),
            (["--write-manifests", ""], "--write-manifests takes a directory, got an empty one"),
        ] {
            let result = try await SerinProcess.run(["demo"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test("rolls a faulty v2 back to v1, says why, exits 1, and leaves no state or manifests behind")
    func faultyDemoRollsBack() async throws {
        let temporary = try SerinProcess.temporaryDirectory()
        let result = try await SerinProcess.run(
            ["demo", "--faulty-canary", "--port-offset", "27100", "--app-port-offset", "9100", "--admin", "127.0.0.1:0"],
            environment: ["TMPDIR": temporary.path], timeout: .seconds(240)
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path) == [])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("web: halt: request-success-rate"), "\(result.stdout)")
        #expect(result.stdout.contains("web: rolled back: request-success-rate"))
        #expect(result.stdout.contains("serin demo: Failed, 100% web-v1-service / 0% web-v2-service"))
        #expect(result.stdout.contains(", 0 failed by Serin"))
        // The seed's legacy Deployment API is the seed's as written: nothing the person running the demo can fix.
        #expect(!result.stderr.contains("warning:"), "\(result.stderr)")
        // v2's 500s are v2's requests: counted on its part of the traffic line.
        let traffic = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("traffic: ") }, "\(result.stdout)")
        #expect(traffic.contains(/, v2 \d+ \(\d+ of them failed\), 0 failed by Serin$/), "\(traffic)")
    }

    @Test("--judge statistical rolls a faulty v2 back at its first look, the rates and interval in the reason, without a halt first")
    func statisticalDemoRollsBackAtOnce() async throws {
        let result = try await SerinProcess.run(
            ["demo", "--judge", "statistical", "--faulty-canary", "--port-offset", "27200", "--app-port-offset", "9200", "--admin", "127.0.0.1:0"],
            timeout: .seconds(120)
        )
        #expect(result.status == 1, "\(result.stderr)")
        #expect(!result.stdout.contains("web: halt:"), "\(result.stdout)")
        let rollback = try #require(
            result.stdout.split(separator: "\n").first { $0.contains("web: rolled back:") }, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)"
        )
        #expect(rollback.contains("request-success-rate: error rate canary ") && rollback.contains("% CI ["), "\(rollback)")
        #expect(result.stdout.contains("serin demo: Failed, 100% web-v1-service / 0% web-v2-service"))
        #expect(result.stdout.contains(", 0 failed by Serin"))
        let bad = try await SerinProcess.run(["demo", "--judge", "bayesian"])
        #expect(bad.status != 0 && bad.stderr.contains("bayesian"), "\(bad.stderr)")
    }

    @Test(
        "reports a port already in use, the gateway's or a demo app's, in words with the flag that picks another, and leaves no state or manifests behind",
        .serialized, arguments: [(27380, "--port-offset"), (27381, "--app-port-offset")])
    func portInUse(port: Int, flag: String) async throws {
        // One case at a time: each demo uses the ports the other blocks.
        let backends = TestBackends()
        let blocker = try await TestHTTPServer.start(group: backends.group, port: port) { _ in .text("busy") }
        let temporary = try SerinProcess.temporaryDirectory()
        let result = try await SerinProcess.run(
            ["demo", "--port-offset", "27300", "--app-port-offset", "9300", "--admin", "127.0.0.1:0"],
            environment: ["TMPDIR": temporary.path]
        )
        await blocker.close()
        await backends.shutdown()
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path) == [])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:\(port)") && result.stderr.contains("address already in use"), "\(result.stderr)")
        #expect(result.stderr.contains(flag))
        #expect(!result.stderr.contains("errno"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("with --keep-running the dashboard and the finished rollout's story stay up until SIGTERM")
    func keepRunning() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let canary = SeedManifests.canary(interval: "1s", stepWeights: [50])
        try canary.text.write(to: directory.appendingPathComponent("canary.yaml"), atomically: true, encoding: .utf8)
        let demo = try SerinProcess.launch([
            "demo", "--canary", directory.path, "--keep-running", "--port-offset", "25000", "--app-port-offset", "7000",
            "--admin", "127.0.0.1:25900", "--rate", "100",
        ])
        let backends = TestBackends()
        let waiting = await demo.waitForOutput("serin demo: the dashboard stays up on http://127.0.0.1:25900/ — Ctrl-C to stop", timeout: .seconds(120))
        if !waiting {
            await demo.kill(SIGKILL)
            let output = await demo.outputText()
            Issue.record("the demo never said it keeps running:\n\(output)")
            return
        }
        let finished = try await UpCommandTests.waitForStatus(adminPort: 25900, group: backends) { _ in true }
        #expect(finished.phase == .succeeded)
        // Still serving after the rollout ended and its summary printed: the page, and the rollout's series for its charts.
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: 25900, group: backends.group)
        let page = try await client.send(.GET, "/", timeout: .seconds(20))
        #expect(page.status == 200)
        #expect(page.bodyText.contains("<title>Serin"))
        let metrics = try await client.send(.GET, "/canaries/web/metrics", timeout: .seconds(20))
        #expect(metrics.bodyText.contains("\"verdict\" : \"pass\""), "\(metrics.bodyText.prefix(500))")
        await client.close()
        #expect(demo.isRunning)
        demo.signal(SIGTERM)
        let status = await demo.waitForExit(timeout: .seconds(60))
        let output = await demo.outputText()
        #expect(status == 0, "\(output)")
        #expect(output.contains("serin demo: dashboard on http://127.0.0.1:25900/"))
        #expect(output.contains("serin demo: Succeeded"))
        await backends.shutdown()
    }
}

