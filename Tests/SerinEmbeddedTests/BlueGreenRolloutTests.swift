import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// Blue/green on the embedded gateway, end to end with `examples/bluegreen/web-bluegreen.yaml`: live traffic stays on
/// v1 while a load-test webhook alone sends v2 requests through the gateway by v2's test host, then all of it moves.
@Suite("Blue/green rollout", .timeLimit(.minutes(2)))
struct BlueGreenRolloutTests {
    /// A rollout webhook that, like Flagger's load tester, sends the canary test requests before answering 200:
    /// by default to the canary's test host, or with the `headers` given.
    final class LoadTester: Sendable {
        private let gatewayPort = NIOLockedValueBox<Int?>(nil)
        private let sent = NIOLockedValueBox(VersionTally())
        let server: HTTPListener

        init(group: any EventLoopGroup, headers: [(name: String, value: String)] = [("Host", "web-v2.test")]) async throws {
            let port = gatewayPort
            let sent = sent
            server = try await TestHTTPServer.start(group: group) { _ in
                // The rollout starts with the gateway; its first hook may come before the test learns the port.
                var gateway: Int?
                for _ in 0..<100 {
                    gateway = port.withLockedValue { $0 }
                    if gateway != nil { break }
                    try? await Task.sleep(for: .milliseconds(20))
                }
                guard let gateway else { return .text("no gateway yet\n", status: 503) }
                let tally = try? await DemoTraffic.run(
                    port: gateway, connections: 1, requestsPerConnection: 40, group: group, headers: headers)
                sent.withLockedValue { total in
                    total.counts.merge(tally?.counts ?? [:], uniquingKeysWith: +)
                    total.failures += tally?.failures ?? ["transport failed"]
                }
                // Past the gateway's next counter snapshot (every 250ms), so the analysis that follows sees them.
                try? await Task.sleep(for: .milliseconds(300))
                return .text("ok\n")
            }
        }

        func aim(at port: Int) { gatewayPort.withLockedValue { $0 = port } }
        var tally: VersionTally { sent.withLockedValue { $0 } }
        var url: String { "http://127.0.0.1:\(server.port)/load" }
    }

    /// The example, fast: 3 iterations 500ms apart, load tests against `loadTester`, and a confirm-promotion gate.
    static func canary(loadTester: String, gate: String) throws -> [ManifestSource] {
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/bluegreen/web-bluegreen.yaml").path
        let example = try String(contentsOfFile: path, encoding: .utf8)
        let documents = example
            .replacingOccurrences(of: "      interval: 1m\n", with: "      interval: 2s\n")
            .replacingOccurrences(of: "    interval: 1m\n", with: "    interval: 500ms\n")
            .replacingOccurrences(of: "iterations: 10", with: "iterations: 3")
            .replacingOccurrences(of: "http://loadtester.test/", with: loadTester)
            // Latency is not what this test is about: a healthy backend's p99 passes a second on a busy 2-core machine.
            .replacingOccurrences(of: "thresholdRange: {max: 500}", with: "thresholdRange: {max: 5000}")
            .components(separatedBy: "\n---\n")
        #expect(documents.count == 2 && !documents[0].contains("1m") && documents[0].contains(loadTester))
        let confirm = "    - {name: release-manager, type: confirm-promotion, url: \"\(gate)\"}\n"
        return [
            ManifestSource(path: "web-bluegreen.yaml", text: documents[0] + "\n" + confirm),
            ManifestSource(path: "web-v2-test.yaml", text: documents[1]),
        ]
    }

    /// Requests the gateway sent to the canary's host, over everything it still remembers.
    static func gatewayRequests(toCanary harness: CanaryRolloutTests.Harness) -> Int {
        harness.runtime.history.window(.seconds(900)).counts.traffic(toHost: "web-v2-service").requests
    }

    /// The example on the embedded gateway with its load tester and a confirm-promotion gate answering `gate`.
    static func withBlueGreen(
        gate status: Int, canaryErrorRate: Double = 0,
        _ body: (CanaryRolloutTests.Harness, LoadTester, WebhookServer) async throws -> Void
    ) async throws {
        try await withLoadTester(gate: status, canaryErrorRate: canaryErrorRate, sources: { try Self.canary(loadTester: $0, gate: $1) }, body)
    }

    /// The Canary and manifests `sources` makes from the load tester's and the gate's URLs (the Canary first) on the
    /// embedded gateway, with a load tester sending `headers` and a confirm-promotion gate answering `gate`.
    static func withLoadTester(
        headers: [(name: String, value: String)] = [("Host", "web-v2.test")], gate status: Int, canaryErrorRate: Double,
        sources: (_ loadTester: String, _ gate: String) throws -> [ManifestSource],
        _ body: (CanaryRolloutTests.Harness, LoadTester, WebhookServer) async throws -> Void
    ) async throws {
        let helpers = TestBackends()
        let loadTester = try await LoadTester(group: helpers.group, headers: headers)
        let gate = try await WebhookServer.start(group: helpers.group, status: status)
        let closeAll = {
            await gate.close()
            await loadTester.server.close()
            await helpers.shutdown()
        }
        do {
            let sources = try sources(loadTester.url, gate.url)
            try await CanaryRolloutTests.withHarness(canary: sources[0], extra: Array(sources.dropFirst()), canaryErrorRate: canaryErrorRate) { harness in
                loadTester.aim(at: harness.port)
                try await body(harness, loadTester, gate)
            }
        } catch {
            await closeAll()
            throw error
        }
        await closeAll()
    }

    @Test("live traffic never reaches the canary during the iterations, only the load test's; after promotion all of it does")
    func healthyBlueGreenSwitchesAtOnce() async throws {
        try await Self.withBlueGreen(gate: 403) { harness, loadTester, gate in
            let waiting = try await harness.waitFor("every iteration passed") { $0.stage == "confirm-promotion" }
            #expect(waiting.phase == .progressing)
            #expect(waiting.stepLabel == "iteration 3/3")
            #expect(await harness.liveWeights() == ["web-v1-service": 100, "web-v2-service": 0])
            // Per backend: every request v2 answered came from the load test; live traffic all went to v1.
            let live = harness.load.counts
            #expect(live.counts["v2"] == nil, "\(live)")
            #expect((live.counts["v1"] ?? 0) > 100, "\(live)")
            let tested = loadTester.tally
            #expect(tested.counts["v2"] ?? 0 >= 120, "\(tested)")
            #expect(tested.counts["v1"] == nil && tested.failures.isEmpty, "\(tested)")
            #expect(await eventually(.seconds(3)) { Self.gatewayRequests(toCanary: harness) == tested.total },
                    "the gateway sent v2 \(Self.gatewayRequests(toCanary: harness)) requests, the load test \(tested.total)")

            gate.answer(200)
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100]) == ["web-v1-service": 0, "web-v2-service": 100])
            let after = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 50, group: harness.backends.group)
            #expect(after.counts == ["v2": 100])
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.hasPrefix("web: iteration 3/3: canary web-v2-service") }, "\(events)")
            #expect(events.contains { $0.hasPrefix("web: promotion confirmed") }, "\(events)")
            #expect(!events.contains { $0.contains("advance canary weight") }, "\(events)")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty)
        }
    }

    @Test("a failing canary is rolled back after threshold failed iterations and never took live traffic")
    func failingBlueGreenRollsBack() async throws {
        try await Self.withBlueGreen(gate: 200, canaryErrorRate: 0.5) { harness, loadTester, gate in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed)
            #expect(final.failedChecks == 2)
            #expect(await harness.liveWeights() == ["web-v1-service": 100, "web-v2-service": 0])
            let tested = loadTester.tally
            #expect(!tested.failures.isEmpty && (tested.counts["v2"] ?? 0) > 0, "\(tested)")
            #expect(await eventually(.seconds(3)) { Self.gatewayRequests(toCanary: harness) == tested.total },
                    "the gateway sent v2 \(Self.gatewayRequests(toCanary: harness)) requests, the load test \(tested.total)")
            let live = harness.load.counts
            #expect(live.counts["v2"] == nil && live.failures.isEmpty, "\(live)")
            #expect(gate.calls.isEmpty, "a rolled-back canary never reaches the promotion gate")
        }
    }
}
