import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// Blue/green with mirroring on the embedded gateway, end to end with `examples/bluegreen/web-mirror.yaml`: while
/// the iterations run, clients get every answer from v1 and a copy of each request goes to v2, which is judged on
/// those copies alone; a slow v2 never slows a client, a failing one never fails a client and is rolled back.
@Suite("Blue/green with mirroring", .timeLimit(.minutes(2)))
struct MirroringRolloutTests {
    /// The v2 demo app behind a recorder of the Host of every request that reaches it.
    final class MirrorTarget: Sendable {
        private let hosts = NIOLockedValueBox<[String]>([])
        private let app: DemoApp

        init(latency: Duration = .zero, errorRate: Double = 0) {
            app = DemoApp(.init(version: "v2", errorRate: errorRate, latency: latency))
        }

        func start(_ backends: TestBackends) async throws -> HTTPListener {
            try await TestHTTPServer.start(group: backends.group) { request in
                self.hosts.withLockedValue { $0.append(request.header("host") ?? "") }
                return await self.app.respond(to: request)
            }
        }

        var received: [String] { hosts.withLockedValue { $0 } }
    }

    /// The example, fast: 3 iterations 500ms apart, each metric over 2s, and `extra` appended to the analysis.
    static func canary(durationMax: Int = 500, extra: String = "") throws -> ManifestSource {
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/bluegreen/web-mirror.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "      interval: 1m\n", with: "      interval: 2s\n")
            .replacingOccurrences(of: "    interval: 1m\n", with: "    interval: 500ms\n")
            .replacingOccurrences(of: "iterations: 10", with: "iterations: 3")
            .replacingOccurrences(of: "thresholdRange: {max: 500}", with: "thresholdRange: {max: \(durationMax)}")
        #expect(!text.contains("1m") && text.contains("mirror: true"))
        return ManifestSource(path: "web-mirror.yaml", text: text + extra)
    }

    /// The live VirtualService's owned route's mirror.
    static func mirror(_ harness: CanaryRolloutTests.Harness) async -> HTTPMirrorPolicy? {
        await harness.runtime.live.config.virtualServices.first { $0.name.name == "web-virtualservice" }?.http.first?.mirror
    }

    /// Requests the gateway counted to the canary's host over everything it remembers: live, or mirrored copies.
    static func gatewayRequests(toCanary harness: CanaryRolloutTests.Harness, mirrored: Bool) -> Int {
        harness.runtime.history.window(.seconds(900)).counts.traffic(toHost: "web-v2-service", kinds: [mirrored ? .mirror : .live]).requests
    }

    @Test("mirrored requests reach the canary and never change the client's answer; a slow canary never slows a client; promotion ends the mirror")
    func mirroredRequestsNeverChangeTheAnswer() async throws {
        // v2 takes 3s per request: a client that waited on its copy could not get its answer within 2.5 s.
        let target = MirrorTarget(latency: .seconds(3))
        let helpers = TestBackends()
        let gate = try await WebhookServer.start(group: helpers.group, status: 403)
        let confirm = "    webhooks:\n    - {name: release-manager, type: confirm-promotion, url: \"\(gate.url)\"}\n"
        let canary = try Self.canary(durationMax: 10_000, extra: confirm)
        try await CanaryRolloutTests.withHarness(canary: canary, rate: 60, canaryBackend: target.start) { harness in
            let waiting = try await harness.waitFor("every iteration passed") { $0.stage == "confirm-promotion" }
            #expect(waiting.phase == .progressing && waiting.stepLabel == "iteration 3/3", "\(waiting.message ?? "")")
            #expect(waiting.strategy == "blueGreenMirroring" && waiting.mirrorWeight == 100)
            #expect(await harness.liveWeights() == ["web-v1-service": 100, "web-v2-service": 0])
            #expect(await Self.mirror(harness) == HTTPMirrorPolicy(destination: Destination(host: "web-v2-service", port: 80), percentage: .all))

            // Every answer a client got came from v1; v2 got copies, marked as Envoy marks them.
            let live = harness.load.counts
            #expect(live.counts["v2"] == nil && live.failures.isEmpty, "\(live)")
            #expect((live.counts["v1"] ?? 0) > 50, "\(live)")
            let received = target.received
            #expect(received.count > 20 && received.allSatisfy { $0.contains("-shadow") }, "\(received.prefix(3))")
            #expect(Self.gatewayRequests(toCanary: harness, mirrored: false) == 0, "a copy is no live request")
            #expect(Self.gatewayRequests(toCanary: harness, mirrored: true) > 0)

            // Each answer within 2.5 s of its request, timed on the client's event loop: one that waited on its copy
            // takes 3 s and fails with ResponseTimeoutError, while a starved test task resuming late counts for nothing.
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.port, group: harness.backends.group)
            for _ in 0..<5 {
                let response = try await client.send(.GET, "/", timeout: .milliseconds(2500))
                #expect(response.status == 200 && response.header(DemoApp.versionHeader) == "v1")
            }
            await client.close()

            gate.answer(200)
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100]) == ["web-v1-service": 0, "web-v2-service": 100])
            #expect(await Self.mirror(harness) == nil)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.hasPrefix("web: iteration 1/3: canary web-v2-service:80 takes no live traffic, a copy of 100% of requests is mirrored to it") }, "\(events)")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty)
        }
        await gate.close()
        await helpers.shutdown()
    }

    @Test("Flagger's mirroring before weight steps: a first step at weight 0 judged on copies, then the weights rise without the mirror")
    func mirroredStepBeforeWeights() async throws {
        let target = MirrorTarget()
        let helpers = TestBackends()
        let gate = try await WebhookServer.start(group: helpers.group, status: 403)
        let confirm = "    webhooks:\n    - {name: traffic-gate, type: confirm-traffic-increase, url: \"\(gate.url)\"}\n"
        var canary = try Self.canary(durationMax: 10_000, extra: confirm)
        canary = ManifestSource(path: canary.path, text: canary.text.replacingOccurrences(of: "iterations: 3", with: "stepWeight: 50\n    maxWeight: 50"))
        try await CanaryRolloutTests.withHarness(canary: canary, rate: 60, canaryBackend: target.start) { harness in
            // The mirrored step passed; the gate holds the weights' first rise, so the mirror is seen as it stands.
            let held = try await harness.waitFor("the mirrored step passed") { $0.stage == "confirm-traffic-increase" }
            #expect(held.stepLabel == "step 1/2" && held.strategy == "canary" && held.mirroring == true, "\(held)")
            #expect(await harness.liveWeights() == ["web-v1-service": 100, "web-v2-service": 0])
            #expect(await Self.mirror(harness) == HTTPMirrorPolicy(destination: Destination(host: "web-v2-service", port: 80), percentage: .all))
            #expect(harness.load.counts.counts["v2"] == nil, "\(harness.load.counts)")
            #expect(!target.received.isEmpty && target.received.allSatisfy { $0.contains("-shadow") })
            let judged = held.lastMeasurements.first { $0.metric == "request-success-rate" }
            #expect((judged?.canaryRequests ?? 0) > 0, "judged on the copies: \(held.lastMeasurements)")
            #expect(held.lastMeasurements.allSatisfy { $0.mirrored == true }, "marked as taken on copies: \(held.lastMeasurements)")

            gate.answer(200)
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.mirroring == nil)
            #expect(await Self.mirror(harness) == nil)
            // v2 took live requests at 50%, without the copy: a live request there is answered once.
            #expect((harness.load.counts.counts["v2"] ?? 0) > 0, "\(harness.load.counts)")
            #expect(Self.gatewayRequests(toCanary: harness, mirrored: false) > 0)
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            let mirrored = events.firstIndex { $0.hasPrefix("web: step 1/2: canary web-v2-service:80 takes no live traffic, a copy of 100% of requests is mirrored to it") }
            let advanced = events.firstIndex { $0 == "web: advance canary weight to 50%" }
            #expect(mirrored != nil && advanced != nil && mirrored! < advanced!, "\(events)")
            // The history tells the checks on copies from those on live traffic.
            let measurements = try await harness.controller.measurements(of: harness.name)
            #expect(measurements.contains { $0.canaryWeight == 0 } && measurements.contains { $0.canaryWeight == 50 }, "\(measurements)")
            #expect(measurements.allSatisfy { $0.mirrored == ($0.canaryWeight == 0 ? true : nil) }, "\(measurements)")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty)
        }
        await gate.close()
        await helpers.shutdown()
    }

    @Test("a canary failing its mirrored requests is rolled back on their numbers, and no client ever got its 500s")
    func failingMirroredCanaryRollsBack() async throws {
        let target = MirrorTarget(errorRate: 1)
        try await CanaryRolloutTests.withHarness(canary: try Self.canary(), rate: 100, canaryBackend: target.start) { harness in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed)
            #expect(final.failedChecks == 2)
            #expect(await harness.liveWeights() == ["web-v1-service": 100, "web-v2-service": 0])
            // Status says Failed as soon as the rollback is decided; the route changes a moment later.
            #expect(await eventually(.seconds(10)) { await Self.mirror(harness) == nil }, "rollback ends the mirror")
            let live = harness.load.counts
            #expect(live.counts["v2"] == nil && live.failures.isEmpty, "\(live)")
            #expect(!target.received.isEmpty)
            let failed = final.lastMeasurements.first { $0.metric == "request-success-rate" }
            // Judged on the copies: the canary had no live request, and every copy it answered failed.
            #expect(failed?.canaryValue == 0 && (failed?.canaryRequests ?? 0) > 0, "\(final.lastMeasurements)")
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("rolled back") && $0.contains("request-success-rate") }, "\(events)")
        }
    }
}
