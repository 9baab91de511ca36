import Foundation
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinManifests
import SerinTesting
import Testing

/// A/B testing on the embedded gateway, end to end with `examples/abtesting/web-abtesting.yaml` and real backends:
/// during the iterations a client sending `x-canary: insider` (or the cookie `canary=always`) always reaches v2 and
/// one without never does; after promotion everyone reaches v2, after a rollback no one does.
@Suite("A/B testing rollout", .timeLimit(.minutes(2)))
struct ABTestingRolloutTests {
    typealias LoadTester = BlueGreenRolloutTests.LoadTester
    static let insider = [(name: "x-canary", value: "insider")]

    /// The example, fast: 3 iterations 500ms apart, a rollout hook sending insiders' requests, a confirm-promotion gate.
    static func canary(loadTester: String, gate: String) throws -> ManifestSource {
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/abtesting/web-abtesting.yaml").path
        let example = try String(contentsOfFile: path, encoding: .utf8)
        let text = example
            .replacingOccurrences(of: "      interval: 1m\n", with: "      interval: 2s\n")
            .replacingOccurrences(of: "    interval: 1m\n", with: "    interval: 500ms\n")
            .replacingOccurrences(of: "iterations: 10", with: "iterations: 3")
            // Latency is not what this test is about: a healthy backend's p99 passes a second on a busy 2-core machine.
            .replacingOccurrences(of: "thresholdRange: {max: 500}", with: "thresholdRange: {max: 5000}")
        #expect(!text.contains("1m") && text.contains("iterations: 3"))
        let hooks = """
                webhooks:
                - {name: insiders, type: rollout, url: "\(loadTester)", timeout: 60s}
                - {name: release-manager, type: confirm-promotion, url: "\(gate)"}

            """
        return ManifestSource(path: "web-abtesting.yaml", text: text + hooks)
    }

    /// The live VirtualService's routes by name (the Canary's route is unnamed in the seed), with their weights.
    static func liveRoutes(_ harness: CanaryRolloutTests.Harness) async -> [String: [String: Int]] {
        let config = await harness.runtime.live.config
        let http = config.virtualServices.first { $0.name.name == "web-virtualservice" }?.http ?? []
        var routes: [String: [String: Int]] = [:]
        for route in http {
            routes[route.name ?? "owned", default: [:]].merge(route.destinations.map { ($0.destination.host, $0.weight) }) { $0 + $1 }
        }
        return routes
    }

    static func traffic(_ harness: CanaryRolloutTests.Harness, headers: [(name: String, value: String)] = []) async throws -> VersionTallyCounts {
        let tally = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 25, group: harness.backends.group, headers: headers)
        return VersionTallyCounts(counts: tally.counts, failures: tally.failures.count)
    }

    struct VersionTallyCounts: Equatable, CustomStringConvertible {
        var counts: [String: Int]
        var failures: Int
        var description: String { "\(counts), \(failures) failures" }
    }

    static func withABTest(
        gate status: Int, canaryErrorRate: Double = 0,
        _ body: (CanaryRolloutTests.Harness, LoadTester, WebhookServer) async throws -> Void
    ) async throws {
        try await BlueGreenRolloutTests.withLoadTester(headers: Self.insider, gate: status, canaryErrorRate: canaryErrorRate, sources: {
            [try Self.canary(loadTester: $0, gate: $1)]
        }, body)
    }

    @Test("during the iterations the header always reaches v2 and its absence never does; after promotion everyone reaches v2")
    func matchingClientsReachCanaryThenEveryone() async throws {
        try await Self.withABTest(gate: 403) { harness, loadTester, gate in
            let waiting = try await harness.waitFor("every iteration passed") { $0.stage == "confirm-promotion" }
            #expect(waiting.strategy == "abTesting" && waiting.stepLabel == "iteration 3/3")
            #expect(waiting.abMatch == "header x-canary = insider or header cookie ~ ^(.*?;)?(canary=always)(;.*)?$")
            #expect(await Self.liveRoutes(harness) == ["web-canary-match": ["web-v2-service": 100], "owned": ["web-v1-service": 100, "web-v2-service": 0]])
            // The insiders' hook reached only v2; the live load without the header only v1.
            let insiders = loadTester.tally
            #expect((insiders.counts["v2"] ?? 0) >= 120 && insiders.counts["v1"] == nil && insiders.failures.isEmpty, "\(insiders)")
            let live = harness.load.counts
            #expect(live.counts["v2"] == nil && (live.counts["v1"] ?? 0) > 100, "\(live)")
            #expect(try await Self.traffic(harness, headers: Self.insider) == .init(counts: ["v2": 50], failures: 0))
            #expect(try await Self.traffic(harness, headers: [("Cookie", "canary=always; theme=dark")]) == .init(counts: ["v2": 50], failures: 0))
            #expect(try await Self.traffic(harness, headers: [("x-canary", "outsider")]) == .init(counts: ["v1": 50], failures: 0))
            #expect(try await Self.traffic(harness) == .init(counts: ["v1": 50], failures: 0))
            // `serin route` without files asks the running gateway, whose table has the match route: a cookie, whose
            // value a query must escape (=, ; and a space), reaches v2; no header, v1.
            let insider = try await SerinProcess.run(["route", "--server", harness.runtime.adminURL, "--header", "cookie=canary=always; theme=dark"])
            #expect(insider.stdout.contains("route:   default/web-virtualservice http[0] (web-canary-match)"), "\(insider.stdout)\(insider.stderr)")
            #expect(insider.stdout.contains("match:   [1] uri exact /, header cookie regex") && insider.stdout.contains("100%  web-v2-service:80"), "\(insider.stdout)")
            let outsider = try await SerinProcess.run(["route", "--server", harness.runtime.adminURL])
            #expect(outsider.stdout.contains("100%  web-v1-service:80") && outsider.stdout.contains("  0%  web-v2-service:80"), "\(outsider.stdout)")

            gate.answer(200)
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(await eventually(.seconds(5)) { await Self.liveRoutes(harness) == ["owned": ["web-v1-service": 0, "web-v2-service": 100]] })
            #expect(try await Self.traffic(harness) == .init(counts: ["v2": 50], failures: 0))
            #expect(try await Self.traffic(harness, headers: Self.insider) == .init(counts: ["v2": 50], failures: 0))
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty)
        }
    }

    @Test("a failing canary is rolled back: the match route goes and no one reaches v2, header or not")
    func rollbackSendsNoOneToCanary() async throws {
        try await Self.withABTest(gate: 200, canaryErrorRate: 0.5) { harness, loadTester, gate in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed && final.failedChecks == 2)
            #expect(await eventually(.seconds(5)) { await Self.liveRoutes(harness) == ["owned": ["web-v1-service": 100, "web-v2-service": 0]] })
            #expect((loadTester.tally.counts["v2"] ?? 0) > 0, "the insiders reached v2 during the analysis: \(loadTester.tally)")
            #expect(try await Self.traffic(harness, headers: Self.insider) == .init(counts: ["v1": 50], failures: 0))
            #expect(try await Self.traffic(harness) == .init(counts: ["v1": 50], failures: 0))
            #expect(harness.load.counts.counts["v2"] == nil)
            #expect(gate.calls.isEmpty)
        }
    }
}
