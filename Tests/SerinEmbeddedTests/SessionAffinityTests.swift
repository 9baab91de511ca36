import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinManifests
import SerinTesting
import Testing

/// `analysis.sessionAffinity` end to end on the embedded gateway: real demo apps behind the real gateway, and
/// clients that keep their cookies as a browser does, while the controller moves the weights.
@Suite("Sticky canary by cookie", .timeLimit(.minutes(3)))
struct SessionAffinityTests {
    static let canaryCookie = "flagger-cookie"
    static let primaryCookie = "flagger-primary-cookie"

    /// A client that keeps its cookies as a browser does: each `Set-Cookie` stored, one with `Max-Age` 0 or less
    /// removed, and the jar sent with every request over one keep-alive connection.
    final class Browser: @unchecked Sendable {
        let connection: SimpleHTTPClient
        var jar: [String: String] = [:]
        /// Every `Set-Cookie` value received, in order, as the gateway sent it.
        var setCookies: [String] = []

        init(port: Int, group: MultiThreadedEventLoopGroup) async throws {
            connection = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
        }

        /// The version that answered a `GET /` (within 30 s: latency is not under test here, and a loaded 2-core CI
        /// run has delayed one request of thousands by more than 5 s).
        func get() async throws -> String {
            let cookie = jar.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
            let response = try await connection.send(.GET, "/", headers: cookie.isEmpty ? [] : [("cookie", cookie)], timeout: .seconds(30))
            for (name, value) in response.headers where name.lowercased() == "set-cookie" {
                setCookies.append(value)
                take(value)
            }
            return response.header(DemoApp.versionHeader) ?? "status \(response.status)"
        }

        func take(_ setCookie: String) {
            let parts = setCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { return }
            let name = String(pair[..<equals])
            let maxAge = parts.dropFirst().first { $0.lowercased().hasPrefix("max-age=") }.flatMap { Int($0.dropFirst(8)) }
            jar[name] = (maxAge ?? 1) <= 0 ? nil : String(pair[pair.index(after: equals)...])
        }

        func close() async { await connection.close() }
    }

    /// Fresh browsers at the current weights until one lands on v2 and one on v1 (the others are closed).
    static func browsers(port: Int, group: MultiThreadedEventLoopGroup) async throws -> (canary: Browser, stable: Browser) {
        var canary: Browser?
        var stable: Browser?
        for _ in 0..<400 where canary == nil || stable == nil {
            let browser = try await Browser(port: port, group: group)
            switch try await browser.get() {
            case "v2" where canary == nil: canary = browser
            case "v1" where stable == nil: stable = browser
            default: await browser.close()
            }
        }
        return (try #require(canary, "no fresh browser landed on v2"), try #require(stable, "no fresh browser landed on v1"))
    }

    /// Pauses the rollout at `weight` and waits until the gateway routes by it.
    static func pause(at weight: Int, _ harness: CanaryRolloutTests.Harness) async throws {
        _ = try await harness.waitFor("canary weight \(weight)%") { $0.canaryWeight >= weight || $0.phase.isFinished }
        guard case .accepted(let paused) = await harness.controller.execute(.pause, canary: harness.name) else {
            Issue.record("pause was refused at \(weight)%")
            throw CancellationError()
        }
        #expect(paused.canaryWeight == weight, "paused where the step put it")
        let live = await harness.liveWeights(settlingOn: ["web-v1-service": 100 - weight, "web-v2-service": weight])
        #expect(live == ["web-v1-service": 100 - weight, "web-v2-service": weight])
    }

    /// Once the release ended: the gateway sends everyone to `version`, and each browser's next 50 requests reach
    /// it, the first of them expiring the browser's affinity cookie.
    static func expectUnpinned(_ browsers: [Browser], reach version: String, _ harness: CanaryRolloutTests.Harness) async throws {
        let v2 = version == "v2" ? 100 : 0
        _ = await harness.liveWeights(settlingOn: ["web-v1-service": 100 - v2, "web-v2-service": v2])
        for browser in browsers {
            let after = try await (0..<50).asyncMap { _ in try await browser.get() }
            #expect(Set(after) == [version], "once the release ended everyone reaches \(version): \(after)")
            #expect(browser.jar.isEmpty, "the end of the release expires the affinity cookies: \(browser.jar)")
            await browser.close()
        }
    }

    @Test("1,000 requests of one browser all reach one version while the weights change 10 → 50 → 90, for a browser on v2 and one on v1; after promotion both reach v2 and lose their cookies")
    func bothCohortsStickThenPromotion() async throws {
        try await CanaryRolloutTests.withHarness(canary: try StickyCanaryTests.example("session-affinity.yaml")) { harness in
            try await Self.pause(at: 10, harness)
            let (canary, stable) = try await Self.browsers(port: harness.port, group: harness.backends.group)
            #expect(canary.jar[Self.canaryCookie] != nil && canary.jar[Self.primaryCookie] == nil, "\(canary.jar)")
            #expect(stable.jar[Self.primaryCookie] != nil && stable.jar[Self.canaryCookie] == nil, "\(stable.jar)")
            var seenByCanary = ["v2"]
            var seenByStable = ["v1"]
            for (step, weight) in [10, 50, 90].enumerated() {
                if step > 0 { try await Self.pause(at: weight, harness) }
                for _ in 0..<(step == 2 ? 334 : 333) - (step == 0 ? 1 : 0) {
                    seenByCanary.append(try await canary.get())
                    seenByStable.append(try await stable.get())
                }
                _ = await harness.controller.execute(.resume, canary: harness.name)
            }
            #expect(seenByCanary.count == 1_000 && seenByStable.count == 1_000)
            #expect(Set(seenByCanary) == ["v2"], "\(seenByCanary.reduce(into: [:]) { $0[$1, default: 0] += 1 })")
            #expect(Set(seenByStable) == ["v1"], "\(seenByStable.reduce(into: [:]) { $0[$1, default: 0] += 1 })")

            let final = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            #expect(final.phase == .succeeded, "\(final.message ?? "")")
            try await Self.expectUnpinned([canary, stable], reach: "v2", harness)
            await harness.load.stop()
            #expect(harness.load.failuresCausedByProxy.isEmpty, "\(harness.load.failuresCausedByProxy.prefix(3))")
        }
    }

    @Test("sessionAffinity's domain, httpOnly, partitioned, path, sameSite and secure reach both cookies' Set-Cookie as Flagger writes them, set and expired, and the cookies still pin")
    func cookieAttributes() async throws {
        let example = try StickyCanaryTests.example("session-affinity.yaml")
        let written = "      primaryCookieName: flagger-primary-cookie\n"
        let attributes = "      domain: example.com\n      httpOnly: true\n      partitioned: true\n      path: /\n      sameSite: None\n      secure: true\n"
        #expect(example.text.contains(written))
        let canary = ManifestSource(path: example.path, text: example.text.replacingOccurrences(of: written, with: written + attributes))
        try await CanaryRolloutTests.withHarness(canary: canary) { harness in
            try await Self.pause(at: 10, harness)
            let (canary, stable) = try await Self.browsers(port: harness.port, group: harness.backends.group)
            let value = try #require(canary.jar[Self.canaryCookie])
            let flags = "Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=None; Secure"
            #expect(canary.setCookies.last == "\(Self.canaryCookie)=\(value); Max-Age=21600; \(flags)")
            #expect(stable.setCookies.last == "\(Self.primaryCookie)=\(value); Max-Age=21600; \(flags)")
            #expect(try await (0..<50).asyncMap { _ in try await canary.get() }.allSatisfy { $0 == "v2" })
            #expect(try await (0..<50).asyncMap { _ in try await stable.get() }.allSatisfy { $0 == "v1" })

            guard case .accepted = await harness.controller.execute(.abort, canary: harness.name) else {
                Issue.record("abort was refused")
                return
            }
            #expect(try await harness.waitFor("Failed") { $0.phase.isFinished }.phase == .failed)
            try await Self.expectUnpinned([canary, stable], reach: "v1", harness)
            // Expired on the same domain and path it was set on, as a browser needs to drop it.
            #expect(canary.setCookies.contains("\(Self.canaryCookie)=\(value); Max-Age=-1; \(flags)"), "\(canary.setCookies.suffix(3))")
            #expect(stable.setCookies.contains("\(Self.primaryCookie)=\(value); Max-Age=-1; \(flags)"), "\(stable.setCookies.suffix(3))")
        }
    }

    @Test("after a rollback everyone reaches v1: the canary cookie no longer pins anyone to v2, and it is expired")
    func rollbackUnpins() async throws {
        try await CanaryRolloutTests.withHarness(canary: try StickyCanaryTests.example("session-affinity.yaml")) { harness in
            try await Self.pause(at: 10, harness)
            let (canary, stable) = try await Self.browsers(port: harness.port, group: harness.backends.group)
            let releaseCookie = try #require(canary.jar[Self.canaryCookie])
            #expect(try await (0..<100).asyncMap { _ in try await canary.get() }.allSatisfy { $0 == "v2" })

            guard case .accepted = await harness.controller.execute(.abort, canary: harness.name) else {
                Issue.record("abort was refused")
                return
            }
            let final = try await harness.waitFor("Failed") { $0.phase.isFinished }
            #expect(final.phase == .failed)
            try await Self.expectUnpinned([canary, stable], reach: "v1", harness)
            // A client that keeps sending the old cookie anyway (ignoring Max-Age) is not pinned to v2 either.
            let stubborn = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.port, group: harness.backends.group)
            for _ in 0..<50 {
                let response = try await stubborn.send(.GET, "/", headers: [("cookie", "\(Self.canaryCookie)=\(releaseCookie)")], timeout: .seconds(30))
                #expect(response.header(DemoApp.versionHeader) == "v1")
            }
            await stubborn.close()
        }
    }
}

extension Range where Bound == Int {
    /// Runs `body` for each element in order, one after another, collecting the results.
    fileprivate func asyncMap<T>(_ body: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await body(element)) }
        return results
    }
}
