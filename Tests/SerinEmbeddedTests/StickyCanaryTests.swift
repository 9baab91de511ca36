import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// `analysis.stickiness` end to end on the embedded gateway: real demo apps behind the real gateway, keys sent
/// as a client sends them, the version that answered read from each response.
@Suite("Hash-sticky canary", .timeLimit(.minutes(2)))
struct StickyCanaryTests {
    static let keys = (0..<1_000).map { "user-\($0)" }

    /// `examples/strategies/sticky-canary.yaml` (or another strategy's example written the same way), with the
    /// analysis made fast enough for a test.
    static func example(_ file: String = "sticky-canary.yaml") throws -> ManifestSource {
        let path = SerinProcess.repositoryRoot.appendingPathComponent("examples/strategies/\(file)").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "8s", with: "400ms")
            .replacingOccurrences(of: "minRequests: 10", with: "minRequests: 5")
            // Latency is not what this test is about: a healthy backend's p99 passes a second on a busy 2-core machine.
            .replacingOccurrences(of: "max: 250", with: "max: 5000")
        return ManifestSource(path: path, text: text)
    }

    /// The version (`v1`, `v2`) that answered each key, sent as `header` (or as the cookie `session` when
    /// `header` is nil) over a few keep-alive connections.
    static func versions(
        of keys: [String], header: String? = "x-user-id", port: Int, group: MultiThreadedEventLoopGroup
    ) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: [String: String].self) { tasks in
            let connections = 4
            for connection in 0..<connections {
                tasks.addTask {
                    let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
                    var seen: [String: String] = [:]
                    for key in stride(from: connection, to: keys.count, by: connections).map({ keys[$0] }) {
                        let field = header.map { ($0, key) } ?? ("cookie", "theme=dark; session=\(key)")
                        let response = try await client.send(.GET, "/", headers: [field], timeout: .seconds(30))
                        seen[key] = response.header(DemoApp.versionHeader) ?? "status \(response.status)"
                    }
                    await client.close()
                    return seen
                }
            }
            return try await tasks.reduce(into: [:]) { $0.merge($1) { first, _ in first } }
        }
    }

    @Test("hash-sticky: the set of keys on the canary only grows as the controller moves the weight 10 → 50 → 90 (1,000 keys, the example Canary)")
    func keysOnCanaryOnlyGrow() async throws {
        try await CanaryRolloutTests.withHarness(canary: try Self.example()) { harness in
            var previous = Set<String>()
            for weight in [10, 50, 90] {
                _ = try await harness.waitFor("canary weight \(weight)%") { $0.canaryWeight >= weight || $0.phase.isFinished }
                guard case .accepted(let paused) = await harness.controller.execute(.pause, canary: harness.name) else {
                    Issue.record("pause was refused at \(weight)%")
                    return
                }
                #expect(paused.canaryWeight == weight, "paused where the step put it")
                let live = await harness.liveWeights(settlingOn: ["web-v1-service": 100 - weight, "web-v2-service": weight])
                #expect(live == ["web-v1-service": 100 - weight, "web-v2-service": weight])
                let route = await harness.runtime.live.config.virtualServices.first { $0.name.name == "web-virtualservice" }?.http.first
                #expect(route?.stickiness == .header("x-user-id"), "the rollout gives the route the Canary's stickiness")

                let versions = try await Self.versions(of: Self.keys, port: harness.port, group: harness.backends.group)
                let onCanary = Set(versions.filter { $0.value == "v2" }.keys)
                #expect(Set(versions.values).isSubset(of: ["v1", "v2"]), "\(Set(versions.values))")
                #expect(previous.isSubset(of: onCanary), "at \(weight)%, \(previous.subtracting(onCanary).count) keys went back to stable")
                let expected = Set(Self.keys.filter { StickyPoint.of($0.utf8) < weight * 100 })
                #expect(onCanary == expected, "exactly the keys whose point is below \(weight * 100)")
                #expect(abs(onCanary.count - weight * 10) < 60, "\(onCanary.count) of 1,000 keys on the canary at \(weight)%")
                // The same key asks again: the same answer.
                let again = try await Self.versions(of: Array(Self.keys.prefix(200)), port: harness.port, group: harness.backends.group)
                #expect(again.allSatisfy { versions[$0.key] == $0.value }, "a key's version does not change within a step")
                previous = onCanary
                _ = await harness.controller.execute(.resume, canary: harness.name)
            }
            let final = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
        }
    }

    @Test("a cookie key sticks too, and a request without the key is drawn at random between both versions")
    func cookieAndKeylessRequests() async throws {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let runtime = try await GatewayRuntime.seed(v1: v1.port, v2: v2.port, threads: 2, halfToCanary: false)
        let split = TrafficSplit(
            stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 50),
            canary: WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: 50),
            stickiness: .cookie("session"))
        try await runtime.live.setWeights(in: ResourceName(name: "web-virtualservice"), split)
        let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
        let keys = Array(Self.keys.prefix(200))

        let first = try await Self.versions(of: keys, header: nil, port: port, group: backends.group)
        let second = try await Self.versions(of: keys, header: nil, port: port, group: backends.group)
        #expect(first == second, "each session cookie gets the same version every time")
        #expect(first.allSatisfy { ($0.value == "v2") == (StickyPoint.of($0.key.utf8) < 5_000) })
        // Without the cookie: 200 requests carrying only an unrelated header are drawn at random, so both answer.
        let keyless = try await Self.versions(of: (0..<200).map { "other-\($0)" }, header: "x-unrelated", port: port, group: backends.group)
        #expect(Set(keyless.values) == ["v1", "v2"], "\(keyless.values.reduce(into: [:]) { $0[$1, default: 0] += 1 })")

        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }
}
