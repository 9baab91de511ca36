import Foundation
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinManifests
import SerinTesting
import Testing

extension CanaryRolloutTests {
    @Test("a Canary applied with spec.suspend: true mid-rollout holds its weights under real traffic, refuses resume, and applied with false goes on to promotion")
    func suspendedCanaryHoldsThenPromotes() async throws {
        let canary = SeedManifests.canary(interval: "300ms", stepWeights: [20, 50, 80])
        let suspended = ManifestSource(path: canary.path, text: canary.text.replacingOccurrences(of: "  analysis:", with: "  suspend: true\n  analysis:"))
        #expect(suspended.text != canary.text)
        try await Self.withHarness(canary: canary) { harness in
            _ = try await harness.waitFor("the first step") { $0.phase == .progressing && $0.canaryWeight == 20 }
            let report = await harness.runtime.live.apply([suspended])
            #expect(report.applied, "\(report.diagnostics)")
            let held = try await harness.waitFor("the suspension's hold") { $0.phase == .paused }
            #expect(held.suspended == true)
            // The weight it held at: 20%, or 50% when a check passed between the wait above and the apply.
            let weight = held.canaryWeight
            #expect([20, 50].contains(weight))
            #expect(held.message == "web: suspended: spec.suspend is true; the rollout holds at canary weight \(weight)% until it is false")
            // Many intervals of real traffic later: nothing was checked and the weights are where they were.
            try await Task.sleep(for: .seconds(2))
            let later = try #require(await harness.controller.status(of: harness.name))
            #expect(later.phase == .paused && later.canaryWeight == weight, "\(later)")
            let expected = ["web-v1-service": 100 - weight, "web-v2-service": weight]
            #expect(await harness.liveWeights(settlingOn: expected) == expected)
            let traffic = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 100, group: harness.backends.group)
            #expect(Set(traffic.counts.keys) == ["v1", "v2"], "both versions keep serving at the held split: \(traffic.counts)")
            let resume = await harness.controller.execute(.resume, canary: harness.name)
            #expect(resume == .rejected("web: cannot resume: spec.suspend is true: set it to false to resume"))

            let unsuspended = await harness.runtime.live.apply([canary])
            #expect(unsuspended.applied, "\(unsuspended.diagnostics)")
            let final = try await harness.waitFor("promotion") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.suspended == nil)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains("web: resumed: spec.suspend is false, at canary weight \(weight)%"), "\(events)")
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100]) == ["web-v1-service": 0, "web-v2-service": 100])
        }
    }
}
