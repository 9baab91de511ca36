import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinServer
import SerinTesting
import SerinWebhooks
import Testing

/// The automated canary on the embedded gateway, end to end: real demo apps, the real gateway and its
/// counters, the real SQLite state file, steady traffic through 127.0.0.1.
@Suite("Automated canary", .timeLimit(.minutes(2)))
struct CanaryRolloutTests {
    /// Everything one rollout test runs against.
    struct Harness {
        let runtime: GatewayRuntime
        let controller: CanaryController
        let port: Int
        let backends: TestBackends
        let load: SteadyLoad
        let name = ResourceName(name: "web")

        func waitFor(
            _ what: String, timeout: Duration = .seconds(30), _ condition: (CanaryStatus) -> Bool
        ) async throws -> CanaryStatus {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let status = await controller.status(of: name), condition(status) { return status }
                try await Task.sleep(for: .milliseconds(50))
            }
            let last = await controller.status(of: name)
            Issue.record("timed out waiting for \(what); last status: \(String(describing: last))")
            throw CancellationError()
        }

        /// The live weights of the seed's VirtualService, once they equal `expected` (or after 5 s).
        func liveWeights(settlingOn expected: [String: Int]) async -> [String: Int] {
            await runtime.liveWeights(of: "web-virtualservice", settlingOn: expected)
        }

        func liveWeights() async -> [String: Int] { await runtime.liveWeights(of: "web-virtualservice") }
    }

    static func withHarness(
        canary: ManifestSource, extra: [ManifestSource] = [], canaryErrorRate: Double = 0, rate: Int = 300,
        metrics: MetricSource = .gateway, adminPort: Int = 0, adminAccess: AdminAccess = .open, eventKeepAlive: Duration = .seconds(15),
        canaryBackend: ((TestBackends) async throws -> HTTPListener)? = nil, https: HTTPSGateway? = nil, logger: Logger = .discarding,
        _ body: (Harness) async throws -> Void
    ) async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        // v2 as the test builds it (one that records what reaches it), or the demo app failing canaryErrorRate of requests.
        let v2 = if let canaryBackend { try await canaryBackend(backends) } else { try await backends.start("v2", errorRate: canaryErrorRate) }
        let seed = SeedManifests.sources(v1: v1.port, v2: v2.port)
        let decoded = SeedManifests.resources((https.map { SeedManifests.overHTTPS(seed, certificate: $0.certificate) } ?? seed) + extra + [canary])
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral,
            adminHost: "127.0.0.1", adminPort: adminPort, adminAccess: adminAccess,
            controller: .init(statePath: state, tickInterval: .milliseconds(50), metrics: metrics, eventKeepAlive: eventKeepAlive, logger: logger)
        )
        let port = try #require(runtime.gateway.boundPort(forDeclared: https == nil ? 80 : 443))
        let controller = try #require(runtime.controller)
        let load = SteadyLoad()
        // rate 0: no client at all, a quiet service.
        if rate > 0 { load.start(port: port, rate: rate, connections: 4, group: backends.group, tls: https?.client) }
        let harness = Harness(runtime: runtime, controller: controller, port: port, backends: backends, load: load)
        do {
            try await body(harness)
        } catch {
            await load.stop()
            await runtime.shutdown()
            throw error
        }
        await load.stop()
        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a healthy canary is promoted: Succeeded, all traffic on v2, no request failed by Serin")
    func healthyRolloutSucceeds() async throws {
        try await Self.withHarness(canary: SeedManifests.canary()) { harness in
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded || $0.phase == .failed }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            #expect(final.promoted == true && final.weightsLabel == "100/0", "the promoted canary is the stable, with all the traffic")
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100]) == ["web-v1-service": 0, "web-v2-service": 100])
            // The API (and the dashboard that reads it) says the same: v2 is the stable at 100, nothing at the canary's 0.
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.runtime.admin.port, group: harness.backends.group)
            let answer = try await client.send(.GET, "/canaries/web", timeout: .seconds(20))
            await client.close()
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
            #expect(json["phase"] as? String == "Succeeded" && json["stable"] as? String == "web-v2-service:80" && json["promoted"] as? Bool == true, "\(json)")
            #expect(json["stableWeight"] as? Int == 100 && json["canaryWeight"] as? Int == 0, "\(json)")
            let after = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 50, group: harness.backends.group)
            #expect(after.counts == ["v2": 100])
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
            let events = try await harness.controller.events(of: harness.name).map(\.message)
            #expect(events.contains { $0.contains("advance canary weight to 20%") }, "\(events)")
            #expect(events.contains { $0.contains("advance canary weight to 50%") })
        }
    }

    /// `serin up` over `sources` with its state in `state`, on ephemeral ports: started again with the same `state`, it
    /// restores what the last one stored.
    static func restartable(_ sources: [ManifestSource], state: String, logger: Logger = .discarding) async throws -> GatewayRuntime {
        let decoded = SeedManifests.resources(sources)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        return try await GatewayRuntime.start(
            resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0,
            controller: .init(statePath: state, tickInterval: .milliseconds(50), metrics: .gateway, logger: logger))
    }

    @Test("a first release over a route split between the stable and a third version says that version leaves the route, with its share")
    func displacedVersionIsSaid() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let split = try String(
            contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("examples/seed/steps/web-gateway-virtualservice-90-10.yaml"), encoding: .utf8)
        // The seed as it stands after the by-hand 90/10 step, and a Canary releasing v3 against v1.
        let sources = SeedManifests.sources(v1: v1.port, v2: v2.port).map { source in
            var source = source
            if source.path.hasSuffix("web-gateway-virtualservice.yaml") { source.text = split }
            return source
        } + [
            SeedManifests.serviceEntry("web-v3-service", port: v2.port, version: "v3"),
            SeedManifests.canary(interval: "1s", canaryHost: "web-v3-service", stableHost: "web-v1-service", progressDeadline: "5m"),
        ]
        let logs = LogRecorder()
        let runtime = try await Self.restartable(
            sources, state: try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path, logger: logs.logger())
        let said = await logs.eventuallyLogs(
            "web: web-v2-service:80 (10%) leaves the routes of default/web-virtualservice: the release splits them between the stable web-v1-service:80 and the canary web-v3-service:80")
        #expect(said, "\(logs.messages)")
        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("restarted from files that lost the canary's ServiceEntry, the stored rollout's canary share stays on the stable: no 503, and the rollout is told its weights were refused")
    func restartWithoutCanaryEndpoints() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let canary = SeedManifests.canary(interval: "1s", threshold: 5, stepWeights: [20, 50], progressDeadline: "5m")
        func start(_ sources: [ManifestSource]) async throws -> GatewayRuntime { try await Self.restartable(sources + [canary], state: state) }
        let seed = SeedManifests.sources(v1: v1.port, v2: v2.port)
        let first = try await start(seed)
        let firstController = try #require(first.controller)
        #expect(await eventually(.seconds(20)) { await firstController.status(of: ResourceName(name: "web"))?.canaryWeight == 20 })
        await first.shutdown()

        // The same files but for v2's ServiceEntry: web-v2-service is a Service with no endpoints now.
        let lost = SeedManifests.dropping(serviceEntry: "web-v2-service", from: seed)
        let second = try await start(lost)
        let controller = try #require(second.controller)
        let port = try #require(second.gateway.boundPort(forDeclared: 80))
        let traffic = try await DemoTraffic.run(port: port, connections: 2, requestsPerConnection: 50, group: backends.group)
        #expect(traffic.counts == ["v1": 100], "\(traffic.counts)")
        #expect(await eventually(.seconds(10)) {
            ((try? await controller.events(of: ResourceName(name: "web"))) ?? []).contains {
                $0.message.contains("halt: cannot set weights 80/20: VirtualService default/web-virtualservice keeps its weights: canary web-v2-service has no endpoints")
            }
        })
        // The status says the 80/20 it shows is not what the routes carry.
        let refused = await eventually(.seconds(10)) { await controller.status(of: ResourceName(name: "web"))?.weightsRefused == true }
        #expect(refused)
        #expect(await controller.status(of: ResourceName(name: "web"))?.weightsLabel.hasSuffix("/20 (refused)") == true)
        await second.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test(
        "weights a restart could not set (the files route only to a version the rollout never had) show as refused; applying a VirtualService that routes to the stable again sets them, and the status says so"
    )
    func refusedRestoreClearsOnApply() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let canary = SeedManifests.canary(interval: "1s", threshold: 5, stepWeights: [20, 50], stableHost: nil, progressDeadline: "5m")
        let name = ResourceName(name: "web")
        func start(_ sources: [ManifestSource]) async throws -> GatewayRuntime { try await Self.restartable(sources + [canary], state: state) }
        let seed = SeedManifests.sources(v1: v1.port, v2: v2.port)
        let first = try await start(seed)
        let firstController = try #require(first.controller)
        #expect(await eventually(.seconds(20)) { await firstController.status(of: name)?.canaryWeight == 20 })
        _ = await firstController.execute(.promote, canary: name)
        #expect(await eventually(.seconds(20)) { await firstController.status(of: name)?.phase == .succeeded })
        await first.shutdown()

        // Files edited by hand meanwhile: the route names only web-v9-service, which no release of this Canary had.
        let elsewhere = seed.map { source in
            var source = source
            source.text = source.text.replacingOccurrences(of: "host: web-v1-service", with: "host: web-v9-service")
            return source
        } + [SeedManifests.serviceEntry("web-v9-service", port: v1.port, version: "v9")]
        let second = try await start(elsewhere)
        let controller = try #require(second.controller)
        // Refused, the promotion is not shown as handed over: the split asked for, v1 at 0 and v2 at 100, not carried.
        #expect(await eventually(.seconds(10)) { await controller.status(of: name)?.weightsLabel == "0/100 (refused)" })
        #expect(await controller.status(of: name)?.promoted == nil)
        let virtualService = try #require(seed.first { $0.path.hasSuffix("web-gateway-virtualservice.yaml") })
        let report = await second.live.apply([virtualService])
        #expect(report.applied, "\(report.diagnostics)")
        #expect(await eventually(.seconds(10)) { await controller.status(of: name)?.weightsLabel == "100/0" })
        #expect(try await controller.events(of: name).contains { $0.message == "web: weights 0/100 applied" })
        await second.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("a failing canary is rolled back within threshold intervals of its first failed check")
    func faultyRolloutRollsBack() async throws {
        let interval = Duration.milliseconds(400)
        try await Self.withHarness(canary: SeedManifests.canary(interval: "400ms", threshold: 2), canaryErrorRate: 0.5) { harness in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed)
            #expect(final.canaryWeight == 0)
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 100, "web-v2-service": 0])["web-v2-service"] == 0)
            let events = try await harness.controller.events(of: harness.name)
            let firstHalt = try #require(events.first { $0.message.contains("halt") })
            let rollback = try #require(events.first { $0.message.contains("rolling back") || $0.message.contains("rolled back") })
            #expect(firstHalt.message.contains("request-success-rate"), "\(firstHalt.message)")
            // Threshold 2: the check after the first failure that fails too rolls back — no later one.
            // Checks are counted, not seconds: a starved CI machine may make a check inconclusive (too few
            // requests), which holds without counting.
            let checks = Dictionary(grouping: try await harness.controller.measurements(of: harness.name), by: \.instant)
                .filter { $0.key >= firstHalt.instant && $0.key <= rollback.instant }
            let failed = checks.values.filter { group in group.contains { $0.verdict.outcome == .fail } }
            #expect(failed.count == 2, "\(events.map(\.message))")
            #expect(rollback.message.contains("(2/2 failed checks)"), "\(rollback.message)")
            #expect(rollback.instant - firstHalt.instant >= interval / 2)
            // The status is saved before the weights move: the route follows a moment later.
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 100, "web-v2-service": 0]) == ["web-v1-service": 100, "web-v2-service": 0])
            let after = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 50, group: harness.backends.group)
            #expect(after.counts["v2"] == nil)
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty)
        }
    }

    @Test("a metric's own provider overrides the controller's default source for that metric only")
    func perMetricProvider() async throws {
        let refusing = try RefusingPort()
        let canary = SeedManifests.canary(interval: "400ms", threshold: 2).text.replacingOccurrences(
            of: "- name: request-success-rate\n",
            with: "- name: request-success-rate\n      provider: {type: prometheus, address: \"http://127.0.0.1:\(refusing.port)\"}\n"
        )
        #expect(canary.contains("provider: {type: prometheus"))
        try await Self.withHarness(canary: ManifestSource(path: "test-canary.yaml", text: canary)) { harness in
            let final = try await harness.waitFor("Failed") { $0.phase == .failed || $0.phase == .succeeded }
            #expect(final.phase == .failed)
            let measured = try await harness.controller.measurements(of: harness.name)
            // The success rate went to the (unreachable) Prometheus; the duration stayed on the gateway's counters.
            #expect(measured.contains { $0.metric == "request-success-rate" && ($0.verdict.reason ?? "").contains("unreachable after 3 attempts") },
                    "\(measured.map(\.verdict))")
            let durations = measured.filter { $0.metric == "request-duration" }
            #expect(!durations.isEmpty && durations.allSatisfy { !($0.verdict.reason ?? "").contains("Prometheus") }, "\(measured.map(\.verdict))")
        }
    }

    @Test("abort under load rolls back at once and fails no request")
    func abortUnderLoad() async throws {
        try await Self.withHarness(canary: SeedManifests.canary(interval: "5s", stepWeights: [30, 60])) { harness in
            _ = try await harness.waitFor("the first step") { $0.canaryWeight == 30 }
            // Abort only once v2 is really serving, polled: a starved machine may take a while to send.
            let deadline = ContinuousClock.now + .seconds(10)
            while (harness.load.counts.counts["v2"] ?? 0) < 10 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            guard case .accepted = await harness.controller.execute(.abort, canary: harness.name) else {
                Issue.record("abort was not accepted")
                return
            }
            let final = try await harness.waitFor("Failed") { $0.phase == .failed }
            #expect(final.canaryWeight == 0)
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 100, "web-v2-service": 0])["web-v2-service"] == 0)
            try await Task.sleep(for: .milliseconds(300))
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
            #expect((harness.load.counts.counts["v2"] ?? 0) > 0)
        }
    }

    @Test("promote under load skips the remaining steps and fails no request")
    func promoteUnderLoad() async throws {
        try await Self.withHarness(canary: SeedManifests.canary(interval: "5s", stepWeights: [30, 60])) { harness in
            _ = try await harness.waitFor("the first step") { $0.canaryWeight == 30 }
            guard case .accepted = await harness.controller.execute(.promote, canary: harness.name) else {
                Issue.record("promote was not accepted")
                return
            }
            let final = try await harness.waitFor("Succeeded") { $0.phase == .succeeded }
            #expect(final.promoted == true && final.weightsLabel == "100/0", "the promoted canary is the stable, with all the traffic")
            #expect(await harness.liveWeights(settlingOn: ["web-v1-service": 0, "web-v2-service": 100]) == ["web-v1-service": 0, "web-v2-service": 100])
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
        }
    }
}

extension CanaryRolloutTests {
    @Test("the seed's VirtualService applied again after a promotion keeps the rollout's weights, and the apply says so")
    func reappliedVirtualServiceSaysItKeepsTheWeights() async throws {
        // No written stable: after the promotion v2 is the stable, and the Canary as written still holds.
        try await Self.withHarness(canary: SeedManifests.canary(interval: "300ms", stableHost: nil)) { harness in
            _ = try await harness.waitFor("v2 promoted") { $0.phase == .succeeded }
            // The status is saved before the weights move: the apply compares with the routes once they serve 0/100.
            let promoted = ["web-v1-service": 0, "web-v2-service": 100]
            #expect(await harness.liveWeights(settlingOn: promoted) == promoted)
            let file = try #require(SeedManifests.sources(v1: 9, v2: 9).first { $0.path.hasSuffix("web-gateway-virtualservice.yaml") })
            let report = await harness.runtime.live.apply([file])
            #expect(report.applied, "\(report.diagnostics)")
            // The same file again changed nothing: what serves is what served.
            #expect(report.results.contains("virtualservice/web-virtualservice unchanged (its weights stay 0/100: a rollout owns them)"
                + "; http[0] sends to web-v1-service:80 as written, a version a release retired: it splits as the rollout does"),
                    "\(report.results)")
            #expect(await harness.liveWeights() == ["web-v1-service": 0, "web-v2-service": 100])
            // An edit beside the weights is one.
            var edited = file
            edited.text = file.text.replacingOccurrences(of: "  - match:", with: "  - timeout: 5s\n    match:")
            #expect(edited.text != file.text)
            let again = await harness.runtime.live.apply([edited])
            #expect(again.results.contains { $0.hasPrefix("virtualservice/web-virtualservice configured (its weights stay 0/100: a rollout owns them)") },
                    "\(again.results) \(again.diagnostics)")
            #expect(await harness.liveWeights() == ["web-v1-service": 0, "web-v2-service": 100])
        }
    }

    @Test("a route to a version a release retired, applied during the next release, is said to split as the rollout does")
    func routeToRetiredVersionIsSaid() async throws {
        try await Self.withHarness(canary: SeedManifests.canary(interval: "300ms", stableHost: nil)) { harness in
            _ = try await harness.waitFor("v2 promoted") { $0.phase == .succeeded }
            let promoted = ["web-v1-service": 0, "web-v2-service": 100]
            #expect(await harness.liveWeights(settlingOn: promoted) == promoted)
            // v2 is the stable now: a file that adds /api to web-v1-service is taken over by the rollout, and says so.
            let file = try #require(SeedManifests.sources(v1: 9, v2: 9).first { $0.path.hasSuffix("web-gateway-virtualservice.yaml") })
            var extra = file
            extra.text = file.text.replacingOccurrences(of: "host: web-v1-service", with: "host: web-v2-service")
                + "  - match: [{uri: {prefix: /api}}]\n    route:\n    - destination: {host: web-v1-service, port: {number: 80}}\n"
            let report = await harness.runtime.live.apply([extra])
            #expect(report.applied, "\(report.diagnostics)")
            #expect(report.results.contains { $0.hasPrefix("virtualservice/web-virtualservice configured (its weights stay ")
                && $0.hasSuffix("; http[1] sends to web-v1-service:80 as written, a version a release retired: it splits as the rollout does") },
                "\(report.results)")
        }
    }

    @Test("applying a Canary with a new canary destination starts a new rollout from the first step")
    func newCanaryDestinationRestarts() async throws {
        let v3 = try await TestBackends().start("v3")
        try await Self.withHarness(canary: SeedManifests.canary(interval: "300ms")) { harness in
            _ = try await harness.waitFor("v2 promoted") { $0.phase == .succeeded }
            let next = SeedManifests.canary(interval: "300ms", canaryHost: "web-v3-service")
            let v3Entry = SeedManifests.serviceEntry("web-v3-service", port: v3.port, version: "v3")
            // v2 is the stable version now: the new Canary moves traffic from v2 to v3.
            var text = next.text.replacingOccurrences(of: "stable: {host: web-v1-service", with: "stable: {host: web-v2-service")
            text = text.replacingOccurrences(of: "web-v1-service", with: "web-v2-service")
            let report = await harness.runtime.live.apply([v3Entry, ManifestSource(path: next.path, text: text)])
            #expect(report.applied, "\(report.diagnostics)")
            #expect(report.results.contains("canary/web configured"))
            // The apply says what it sets going.
            #expect(report.results.contains("canary/web starts a release of web-v3-service:80"), "\(report.results)")
            let restarted = try await harness.waitFor("the new rollout's first step") { $0.canary.contains("web-v3-service") && $0.canaryWeight == 20 }
            #expect(restarted.step == 1)
            let final = try await harness.waitFor("v3 promoted") { $0.phase == .succeeded && $0.canary.contains("web-v3-service") }
            #expect(final.promoted == true && final.weightsLabel == "100/0", "the promoted canary is the stable, with all the traffic")
            // The status is saved before the weights move: the route follows a moment later.
            let promoted = ["web-v2-service": 0, "web-v3-service": 100]
            #expect(await harness.liveWeights(settlingOn: promoted) == promoted)
            let after = try await DemoTraffic.run(port: harness.port, connections: 2, requestsPerConnection: 25, group: harness.backends.group)
            #expect(after.counts == ["v3": 50])
        }
        await v3.close()
    }
}

@Suite("HTTP webhooks", .timeLimit(.minutes(1)))
struct HTTPWebhookRunnerTests {
    static func call(_ url: String, timeout: Duration = .seconds(10)) -> WebhookCall {
        WebhookCall(
            webhook: WebhookSpec(name: "gate", type: .confirmPromotion, url: url, timeout: timeout, metadata: ["team": "web"]),
            payload: WebhookPayload(name: "web", namespace: "default", phase: "Progressing", canaryWeight: 50, stableWeight: 50, type: .confirmPromotion, metadata: ["team": "web"])
        )
    }

    @Test("posts the JSON payload and takes 2xx as yes, anything else as no with the answer")
    func yesAndNo() async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: 200)
        #expect(await HTTPWebhookRunner().call(Self.call(server.url)) == .passed)
        let body = try #require(server.calls.first)
        #expect(body.method == "POST")
        #expect(body.header("content-type") == "application/json")
        #expect(body.bodyText.contains("\"canaryWeight\":50"))
        #expect(body.bodyText.contains("\"type\":\"confirm-promotion\""), "\(body.bodyText)")
        #expect(body.bodyText.contains("\"name\":\"web\""))
        #expect(body.bodyText.contains("\"metadata\":{\"team\":\"web\"}"))
        server.answer(403)
        #expect(await HTTPWebhookRunner().call(Self.call(server.url)) == .failed(reason: "gate answered 403: not yet"))
        await server.close()
        await backends.shutdown()
    }

    @Test("a hook slower than its timeout is a no that says so")
    func timeout() async throws {
        let backends = TestBackends()
        let slow = try await backends.start("slow", latency: .seconds(2))
        let result = await HTTPWebhookRunner().call(Self.call("http://127.0.0.1:\(slow.port)/hook", timeout: .milliseconds(200)))
        #expect(result == .failed(reason: "gate: no answer within 200ms"))
        await slow.close()
        await backends.shutdown()
    }

    @Test("an unreachable hook is a no at once that says why; a malformed URL is a no, never a crash")
    func unreachable() async throws {
        let backends = TestBackends()
        let refusing = try RefusingPort()
        let started = ContinuousClock.now
        let refused = await HTTPWebhookRunner().call(Self.call("http://127.0.0.1:\(refusing.port)/", timeout: .seconds(20)))
        let tried = ContinuousClock.now - started
        guard case .failed(let reason) = refused else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason == "gate: connection refused", "\(reason)")
        // Refused as the connection is refused, not after reconnecting until the hook's 20 s timeout, which would
        // end as "no answer within 20s" and hide the reason.
        #expect(tried < .seconds(10), "\(tried)")
        #expect(await HTTPWebhookRunner().call(Self.call("ftp://x")) == .failed(reason: "gate: url ftp://x is not http(s)://host[:port][/path]"))
        await backends.shutdown()
    }
}
