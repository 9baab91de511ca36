import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinListener
import SerinManifests
import SerinServer
import SerinTesting
import Testing

/// Releases after the first on the embedded gateway: each new canary is released against what serves now,
/// with real demo apps behind the real gateway and the real SQLite state.
@Suite("Release trains", .timeLimit(.minutes(3)))
struct ReleaseTrainTests {
    /// The versions a burst of requests through the gateway reached, by the version each page names.
    static func sample(_ harness: CanaryRolloutTests.Harness) async throws -> Set<String> {
        let tally = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 40, group: harness.backends.group)
        #expect(tally.failures.allSatisfy { !$0.contains("Serin") }, "\(tally.failures.prefix(3))")
        return Set(tally.counts.keys)
    }

    /// Applies the Canary again with `canary` as the new version and no stable written, as a user starts the next release.
    static func release(_ canary: String, on harness: CanaryRolloutTests.Harness) async throws {
        let report = await harness.runtime.live.apply([
            SeedManifests.canary(interval: "400ms", stepWeights: [20, 50], canaryHost: canary, stableHost: nil)
        ])
        #expect(report.applied, "\(report.diagnostics)")
    }

    /// Waits for the release of `canary` to end, sampling traffic while it progresses: every sample reaches
    /// only the stable and the canary of this release.
    static func finish(
        _ canary: String, from stable: String, on harness: CanaryRolloutTests.Harness
    ) async throws -> CanaryStatus {
        // The demo page names its version: web-v2-service answers "v2".
        let allowed = Set([stable, canary].map { String($0.split(separator: "-")[1]) })
        var sampled: Set<String> = []
        while true {
            let status = try await harness.waitFor("\(canary) to progress or end") { _ in true }
            if status.phase.isFinished && status.canary.hasPrefix(canary) { return status }
            if status.canary.hasPrefix(canary) && status.canaryWeight > 0 {
                let reached = try await sample(harness)
                sampled.formUnion(reached)
                #expect(reached.isSubset(of: allowed), "release \(stable) → \(canary) sent traffic to \(reached.subtracting(allowed))")
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    @Test("v1 → v2 promoted → v3 rolled back → v4 promoted: no request reaches a version outside the release in flight")
    func trainOfReleases() async throws {
        let extra = TestBackends(threads: 1)
        let v3 = try await extra.start("v3", errorRate: 0.5)
        let v4 = try await extra.start("v4")
        let entries = [
            SeedManifests.serviceEntry("web-v3-service", port: v3.port, version: "v3"),
            SeedManifests.serviceEntry("web-v4-service", port: v4.port, version: "v4"),
        ]
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(stableHost: nil), extra: entries) { harness in
            let first = try await Self.finish("web-v2-service", from: "web-v1-service", on: harness)
            #expect(first.phase == .succeeded)
            #expect(first.stable == "web-v2-service:80")

            try await Self.release("web-v3-service", on: harness)
            let second = try await Self.finish("web-v3-service", from: "web-v2-service", on: harness)
            #expect(second.phase == .failed)
            #expect(second.stable == "web-v2-service:80")
            #expect(await harness.liveWeights(settlingOn: ["web-v2-service": 100, "web-v3-service": 0])
                == ["web-v2-service": 100, "web-v3-service": 0])
            #expect(try await Self.sample(harness) == ["v2"])

            try await Self.release("web-v4-service", on: harness)
            let third = try await Self.finish("web-v4-service", from: "web-v2-service", on: harness)
            #expect(third.phase == .succeeded)
            #expect(await harness.liveWeights(settlingOn: ["web-v2-service": 0, "web-v4-service": 100])
                == ["web-v2-service": 0, "web-v4-service": 100])
            #expect(try await Self.sample(harness) == ["v4"])

            #expect(third.releases.map { "\($0.stable) → \($0.canary) \($0.outcome)" } == [
                "web-v1-service:80 → web-v2-service:80 Promoted",
                "web-v2-service:80 → web-v3-service:80 RolledBack",
                "web-v2-service:80 → web-v4-service:80 Promoted",
            ])
            #expect(third.releases[1].reason?.contains("request-success-rate") == true, "\(third.releases[1])")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
        }
        await v3.close()
        await v4.close()
        await extra.shutdown()
    }

    @Test("applying the Canary with a stable that no longer serves is refused at its line, and nothing moves")
    func staleStableRefused() async throws {
        let extra = TestBackends(threads: 1)
        let v3 = try await extra.start("v3")
        try await CanaryRolloutTests.withHarness(
            canary: SeedManifests.canary(), extra: [SeedManifests.serviceEntry("web-v3-service", port: v3.port, version: "v3")]
        ) { harness in
            let promoted = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            #expect(promoted.phase == .succeeded)
            let weights = await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100])
            // The Canary as first written, stable: web-v1-service left in, the canary moved on to v3.
            let stale = SeedManifests.canary(canaryHost: "web-v3-service")
            let report = await harness.runtime.live.apply([stale])
            #expect(!report.applied)
            #expect(report.diagnostics == [
                "test-canary.yaml:9:18: error: Canary web: spec.stable is web-v1-service:80, but web-v2-service:80 serves now; "
                    + "remove spec.stable (Serin releases from what serves) or write stable: {host: web-v2-service, port: 80}; nothing was changed"
            ])
            #expect(await harness.liveWeights() == weights)
            let after = try #require(await harness.controller.status(of: harness.name))
            #expect(after.phase == .succeeded)
            #expect(after.canary == "web-v2-service:80")
            // `rollout` of the promoted canary is refused the same way: it already serves everything.
            let reply = await harness.controller.execute(.restart, canary: harness.name)
            #expect(reply == .rejected("web: spec.canary web-v2-service:80 is the version that serves now; to release a new version, set spec.canary to it; nothing was changed"))
            #expect(try await Self.sample(harness) == ["v2"])
        }
        await v3.close()
        await extra.shutdown()
    }
}
