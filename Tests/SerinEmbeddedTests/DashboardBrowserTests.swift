import Foundation
import NIOPosix
import SerinController
import SerinCore
import SerinDemoApp
import SerinServer
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// Headless Chromium installed in CI (the browser test must run there), reported when it is missing locally.
@Suite("Chromium installation")
struct ChromiumInstallationTests {
    @Test("Chromium is installed when CI is true; elsewhere its absence is printed")
    func installed() {
        let ci = ProcessInfo.processInfo.environment["CI"] == "true"
        if HeadlessChromium.binary == nil && !ci { print("skipping the dashboard browser test: \(HeadlessChromium.skipReason)") }
        #expect(HeadlessChromium.binary != nil || !ci, "CI=true but \(HeadlessChromium.skipReason)")
    }
}

/// The dashboard in a real browser during a rollout: the card shows phase and weights, the charts are
/// drawn, it follows the rollout live, and Abort (confirmed) rolls the canary back.
@Suite(
    "Dashboard in a browser", .timeLimit(.minutes(4)),
    .enabled(if: HeadlessChromium.shouldRun, Comment(rawValue: HeadlessChromium.skipReason))
)
struct DashboardBrowserTests {
    /// What the test reads from the page's DOM.
    struct CardState: Decodable, Equatable {
        var phase: String?
        var canaryWeight: Int?
        var stableWeight: Int?
        var step: String?
        var connection: String?
        var paths: Int
        var thresholds: Int
        var verdictMarks: Int
        var events: Int
    }

    static let readCard = """
        (() => {
          const card = document.querySelector('[data-canary="web"]');
          const bar = card?.querySelector('[data-weights]');
          return {
            phase: card?.querySelector('[data-phase]')?.dataset.phase ?? null,
            canaryWeight: bar ? Number(bar.dataset.canaryWeight) : null,
            stableWeight: bar ? Number(bar.dataset.stableWeight) : null,
            step: card?.querySelector('[data-step]')?.textContent ?? null,
            connection: document.getElementById('connection').dataset.connection,
            paths: card ? card.querySelectorAll('svg[data-chart] path[data-series]').length : 0,
            thresholds: card ? card.querySelectorAll('svg[data-chart] line[data-threshold]').length : 0,
            verdictMarks: card ? card.querySelectorAll('svg[data-chart] circle[data-verdict]').length : 0,
            events: card ? card.querySelectorAll('[data-events] li').length : 0,
          };
        })()
        """

    /// Polls the page until `condition` holds; fails with the last state seen after `timeout`.
    static func waitForCard(
        _ browser: HeadlessChromium, _ what: String, timeout: Duration = .seconds(60), _ condition: (CardState) -> Bool
    ) async throws -> CardState {
        var last: CardState?
        let seen = await eventually(timeout) {
            last = try? await browser.page.evaluate(readCard, as: CardState.self)
            return last.map(condition) ?? false
        }
        guard seen, let last else {
            Issue.record("the dashboard never showed \(what); last seen: \(String(describing: last))")
            throw CancellationError()
        }
        return last
    }

    /// Saves a screenshot under .build/test-artifacts (printed), and as docs/dashboard.png when
    /// SERIN_UPDATE_SCREENSHOT=1.
    static func saveScreenshot(_ png: Data, named name: String, updatingDocs: Bool) throws {
        let artifacts = SerinProcess.repositoryRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let file = artifacts.appendingPathComponent(name)
        try png.write(to: file)
        print("dashboard screenshot: \(file.path)")
        if updatingDocs, ProcessInfo.processInfo.environment["SERIN_UPDATE_SCREENSHOT"] == "1" {
            let docs = SerinProcess.repositoryRoot.appendingPathComponent("docs/dashboard.png")
            try png.write(to: docs)
            print("updated \(docs.path)")
        }
    }

    @Test("shows the canary's phase, weights and charts, follows the rollout live, and Abort rolls it back")
    func watchAndAbort() async throws {
        // Chromium starts before the rollout does, so a slow start never eats into the rollout's steps.
        let browser = try await HeadlessChromium.start(group: MultiThreadedEventLoopGroup.singleton)
        do {
            try await watchAndAbort(in: browser)
        } catch {
            await browser.stop()
            throw error
        }
        await browser.stop()
    }

    func watchAndAbort(in browser: HeadlessChromium) async throws {
        // 19 steps of 2s: long enough to watch several checks and still abort mid-rollout on a slow machine.
        let canary = SeedManifests.canary(interval: "2s", stepWeights: Array(stride(from: 5, through: 95, by: 5)), progressDeadline: "2m")
        try await CanaryRolloutTests.withHarness(canary: canary, rate: 150) { harness in
            try await browser.page.setViewport(width: 1280, height: 1000)
            try await browser.page.navigate(to: harness.runtime.adminURL + "/")

            let first = try await Self.waitForCard(browser, "the canary progressing with weights") {
                $0.phase == "Progressing" && ($0.canaryWeight ?? 0) >= 5
            }
            #expect(first.canaryWeight.map { 100 - $0 } == first.stableWeight)
            #expect(first.step?.hasSuffix("/19") == true, "\(first)")

            // Live: later steps show up without reloading, with their checks drawn on the charts.
            let later = try await Self.waitForCard(browser, "later steps with charts and verdict marks") {
                ($0.canaryWeight ?? 0) >= 20 && $0.paths >= 6 && $0.thresholds >= 2 && $0.verdictMarks >= 6 && $0.connection == "live"
            }
            #expect(later.events >= 4)
            // A check's numbers carry their unit: p99 in ms, success rate in %.
            let verdictLines = try await browser.page.evaluate(
                "[...document.querySelectorAll('[data-canary=\"web\"] [data-verdicts] li')].map((li) => li.textContent).join(\"\\n\")",
                as: String.self)
            #expect(verdictLines.contains(" ms, stable ") && verdictLines.contains("%, stable "), "\(verdictLines)")
            let status = try #require(await harness.controller.status(of: harness.name))
            #expect(status.phase == .progressing, "the rollout ended before the test could abort it")
            try Self.saveScreenshot(try await browser.page.screenshot(), named: "dashboard.png", updatingDocs: true)

            let clicked = try await browser.page.evaluate(
                "(() => { const b = document.querySelector('[data-canary=\"web\"] [data-action=\"abort\"]'); b.click(); return !b.disabled; })()",
                as: Bool.self
            )
            #expect(clicked)
            let rolledBack = try await Self.waitForCard(browser, "the rollback after Abort") {
                ($0.phase == "RollingBack" || $0.phase == "Failed") && $0.canaryWeight == 0
            }
            #expect(rolledBack.stableWeight == 100)
            #expect(browser.page.acceptedDialogs.contains { $0.hasPrefix("Abort canary web?") }, "\(browser.page.acceptedDialogs)")
            let final = try await harness.waitFor("Failed after abort") { $0.phase.isFinished }
            #expect(final.phase == .failed)
            try Self.saveScreenshot(try await browser.page.screenshot(), named: "dashboard-after-abort.png", updatingDocs: false)

            // A phone: the card fits the screen, nothing scrolls sideways.
            try await browser.page.setViewport(width: 390, height: 844, mobile: true)
            let fits = try await browser.page.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('[data-canary=\"web\"]').getBoundingClientRect().width <= window.innerWidth",
                as: Bool.self
            )
            #expect(fits, "the dashboard overflows a 390px-wide phone screen")
            try Self.saveScreenshot(try await browser.page.screenshot(), named: "dashboard-phone.png", updatingDocs: false)
        }
    }

    @Test("a statistical rollback shows its numbers on the card: the verdict, both rates, the interval and the counts")
    func statisticalNumbers() async throws {
        let browser = try await HeadlessChromium.start(group: MultiThreadedEventLoopGroup.singleton)
        do {
            // A floor of 0 leaves the comparison with the stable, not the hard limit, to roll back the failing canary.
            let canary = SeedManifests.canary(
                interval: "1s", threshold: 5, stepWeights: [50], successRateMin: 0, progressDeadline: "1m",
                judge: "judge: statistical\n    statistical: {errorRateIncrease: 5}")
            try await CanaryRolloutTests.withHarness(canary: canary, canaryErrorRate: 0.5, rate: 150) { harness in
                try await browser.page.navigate(to: harness.runtime.adminURL + "/")
                _ = try await harness.waitFor("the rollback") { $0.phase == .failed }
                let readFailure = """
                    (() => [...document.querySelectorAll('[data-canary="web"] [data-verdicts] li[data-verdict="fail"]')]
                      .map((li) => li.textContent).join("\\n"))()
                    """
                var text = ""
                let shown = await eventually(.seconds(20)) {
                    text = (try? await browser.page.evaluate(readFailure, as: String.self)) ?? ""
                    return text.contains("error rate canary")
                }
                #expect(shown, "the card's failed verdicts: \(text)")
                #expect(text.hasPrefix("request-success-rate: fail: request-success-rate: error rate canary "), "\(text)")
                #expect(text.contains("vs stable ") && text.contains("% CI [") && text.contains("worse beyond the +5 pts tolerance"), "\(text)")
            }
        } catch {
            await browser.stop()
            throw error
        }
        await browser.stop()
    }

    /// The dashboard in the browser on a runtime serving `sources` (the seed's, pointed at a live v1) with a controller.
    static func withDashboard(
        _ sources: (_ v1: Int) -> [ManifestSource], access: AdminAccess = .open,
        _ body: (HeadlessChromium, GatewayRuntime) async throws -> Void
    ) async throws {
        let browser = try await HeadlessChromium.start(group: MultiThreadedEventLoopGroup.singleton)
        let backends = TestBackends(threads: 2)
        let outcome: Result<Void, any Error>
        do {
            let v1 = try await backends.start("v1")
            let decoded = SeedManifests.resources(sources(v1.port))
            #expect(decoded.errors.isEmpty, "\(decoded.errors)")
            let runtime = try await GatewayRuntime.start(
                resources: decoded.resources, threads: 2, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0,
                adminAccess: access, controller: .init(statePath: try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path,
                                  tickInterval: .milliseconds(50), metrics: .gateway, logger: .discarding))
            try await browser.page.navigate(to: runtime.adminURL + "/")
            do { outcome = .success(try await body(browser, runtime)) } catch { outcome = .failure(error) }
            await runtime.shutdown()
            await v1.close()
        } catch {
            outcome = .failure(error)
        }
        await browser.stop()
        await backends.shutdown()
        try outcome.get()
    }

    /// The page's answer to `script`, once `condition` holds of it or after 30 s.
    static func read(_ browser: HeadlessChromium, _ script: String, until condition: (String) -> Bool) async -> String {
        var text = ""
        _ = await eventually(.seconds(30)) {
            text = (try? await browser.page.evaluate(script, as: String.self)) ?? ""
            return condition(text)
        }
        return text
    }

    @Test("weights the router refuses are marked refused on the bar: the routes do not carry them")
    func refusedWeights() async throws {
        // No ServiceEntry for v2: web-v2-service is a Service with no endpoints, so every step's weights are refused.
        try await Self.withDashboard({ v1 in
            SeedManifests.dropping(serviceEntry: "web-v2-service", from: SeedManifests.sources(v1: v1, v2: 9))
                + [SeedManifests.canary(interval: "1s", threshold: 50, stepWeights: [20, 50], progressDeadline: "5m")]
        }) { browser, _ in
            let bar = await Self.read(browser, """
                (() => {
                  const bar = document.querySelector('[data-canary="web"] [data-weights]');
                  return bar ? bar.dataset.weightsRefused + " " + bar.querySelector('[data-canary-bar]').textContent : "";
                })()
                """) { $0 == "true canary 20% (refused)" }
            #expect(bar == "true canary 20% (refused)")
        }
    }

    @Test("checks made on mirrored copies say so on the card: in the verdict lines and in each chart mark's hover text")
    func mirroredChecksMarked() async throws {
        let browser = try await HeadlessChromium.start(group: MultiThreadedEventLoopGroup.singleton)
        let helpers = TestBackends()
        let outcome: Result<Void, any Error>
        do {
            // Flagger's mirroring before weight steps, held at its gate after the mirrored step has been judged.
            let gate = try await WebhookServer.start(group: helpers.group, status: 403)
            let confirm = "    webhooks:\n    - {name: traffic-gate, type: confirm-traffic-increase, url: \"\(gate.url)\"}\n"
            var canary = try MirroringRolloutTests.canary(durationMax: 10_000, extra: confirm)
            canary.text = canary.text.replacingOccurrences(of: "iterations: 3", with: "stepWeight: 50\n    maxWeight: 50")
            let target = MirroringRolloutTests.MirrorTarget()
            do {
                try await CanaryRolloutTests.withHarness(canary: canary, rate: 60, canaryBackend: target.start) { harness in
                    _ = try await harness.waitFor("the mirrored step judged") { $0.stage == "confirm-traffic-increase" }
                    try await browser.page.navigate(to: harness.runtime.adminURL + "/")
                    let marked = await Self.read(browser, """
                        (() => {
                          const card = document.querySelector('[data-canary="web"]');
                          if (!card) return "";
                          const lines = [...card.querySelectorAll('[data-verdicts] li')].map((li) => li.textContent);
                          const marks = [...card.querySelectorAll('svg[data-chart] circle[data-verdict] title')].map((t) => t.textContent);
                          return JSON.stringify({ lines, marks });
                        })()
                        """) { $0.contains("on mirrored copies") && $0.contains("\"marks\":[\"") }
                    struct Seen: Decodable { var lines: [String]; var marks: [String] }
                    let seen = try JSONDecoder().decode(Seen.self, from: Data(marked.utf8))
                    // Every check so far was made in the mirrored step; the one that let it pass among them.
                    #expect(!seen.lines.isEmpty && seen.lines.allSatisfy { $0.contains(" on mirrored copies") }, "\(seen.lines)")
                    #expect(seen.marks.allSatisfy { $0.contains(" on mirrored copies") }, "\(seen.marks)")
                    #expect(seen.marks.contains { $0.contains(" pass on mirrored copies") }, "\(seen.marks)")
                    await harness.load.stop()
                }
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await gate.close()
        } catch {
            outcome = .failure(error)
        }
        await helpers.shutdown()
        await browser.stop()
        try outcome.get()
    }

    @Test("a Canary refused at start has its card, saying why; a plain canary's card shows none of the strategies' rows")
    func refusedCanary() async throws {
        // The canary named is the version that serves everything now: nothing to release.
        try await Self.withDashboard({ v1 in
            SeedManifests.sources(v1: v1, v2: 9) + [SeedManifests.canary(canaryHost: "web-v1-service", stableHost: nil)]
        }) { browser, _ in
            let message = await Self.read(browser, """
                (() => document.querySelector('[data-canary="web"] [data-message]')?.textContent ?? "")()
                """) { !$0.isEmpty }
            #expect(message.hasPrefix("refused: spec.canary web-v1-service:80 is the version that serves now"), "\(message)")
            // It drives no weights, so it shows no weight bar (100/0 there would say what the routes do not serve).
            let bar = await Self.read(browser, """
                (() => { const bar = document.querySelector('[data-canary="web"] [data-weights]');
                  return bar ? String(getComputedStyle(bar).display === "none") : ""; })()
                """) { !$0.isEmpty }
            #expect(bar == "true")
            // A plain canary shows none of the strategies' rows (they are hidden, and their layout must not show them).
            let shown = await Self.read(browser, """
                (() => [...document.querySelectorAll('[data-canary="web"] :is([data-ab], [data-mirror], [data-load], [data-sticky])')]
                  .filter((row) => getComputedStyle(row).display !== "none").map((row) => row.textContent).join(" | "))()
                """) { $0.isEmpty }
            #expect(shown.isEmpty, "rows shown for a plain canary: \(shown)")
        }
    }

    /// The seed and a Canary `web` over it that stays Progressing for minutes (no traffic: every check is
    /// inconclusive, far from its threshold).
    static func slowSeedCanary(v1: Int) -> [ManifestSource] {
        SeedManifests.sources(v1: v1, v2: v1)
            + [SeedManifests.canary(interval: "1s", threshold: 200, stepWeights: [20, 50], progressDeadline: "10m")]
    }

    /// `sources` moved to `namespace`: each object's metadata names it.
    static func inNamespace(_ namespace: String, _ sources: [ManifestSource]) -> [ManifestSource] {
        sources.map { source in
            ManifestSource(
                path: "\(namespace)-\(source.path.split(separator: "/").last ?? "")",
                text: source.text.replacingOccurrences(of: "metadata:\n  name:", with: "metadata:\n  namespace: \(namespace)\n  name:"))
        }
    }

    /// The phase on the card of Canary `name` in `namespace`, as the page shows it.
    static func phase(_ namespace: String, _ name: String) -> String {
        "(() => document.querySelector('[data-canary=\"\(name)\"][data-namespace=\"\(namespace)\"] [data-phase]')?.dataset.phase ?? '')()"
    }

    @Test("two Canaries named web, in default and in shop: each card is named and steered as its own, and the CLI reaches shop/web")
    func sameNameInTwoNamespaces() async throws {
        try await Self.withDashboard({ v1 in
            let seed = Self.slowSeedCanary(v1: v1)
            return seed + Self.inNamespace("shop", seed)
        }) { browser, runtime in
            let controller = try #require(runtime.controller)
            let shop = ResourceName(namespace: "shop", name: "web"), plain = ResourceName(name: "web")
            let titles = await Self.read(browser, """
                (() => [...document.querySelectorAll('[data-canary="web"] [data-name]')].map((h) => h.textContent).sort().join(" "))()
                """) { $0 == "shop/web web" }
            #expect(titles == "shop/web web")
            for namespace in ["default", "shop"] {
                #expect(await Self.read(browser, Self.phase(namespace, "web")) { $0 == "Progressing" } == "Progressing", "\(namespace)")
            }
            _ = try await browser.page.evaluate(
                "(() => { document.querySelector('[data-canary=\"web\"][data-namespace=\"shop\"] [data-action=\"pause\"]').click(); return true; })()",
                as: Bool.self)
            #expect(await eventually(.seconds(20)) { await controller.status(of: shop)?.phase == .paused })
            #expect(await controller.status(of: plain)?.phase == .progressing)
            #expect(browser.page.acceptedDialogs.contains { $0.hasPrefix("Pause canary shop/web?") }, "\(browser.page.acceptedDialogs)")
            #expect(await Self.read(browser, Self.phase("shop", "web")) { $0 == "Paused" } == "Paused")

            // The command line names it the same way.
            let status = try await SerinProcess.run(["status", "shop/web", "--server", runtime.adminURL, "-o", "json"])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("\"namespace\" : \"shop\"") && status.stdout.contains("\"phase\" : \"Paused\""), "\(status.stdout)")
            let resume = try await SerinProcess.run(["resume", "shop/web", "--server", runtime.adminURL])
            #expect(resume.status == 0, "\(resume.stderr)")
            #expect(await controller.status(of: shop)?.phase == .progressing)
            #expect(await controller.status(of: plain)?.phase == .progressing)
        }
    }

    @Test("with a token on reads, the page says the token is needed, and once given follows the event stream with it")
    func tokenOnReads() async throws {
        try await Self.withDashboard(Self.slowSeedCanary, access: AdminAccess(token: "s3cret", readRequiresToken: true)) { browser, _ in
            // The first prompt got OK with nothing typed: the page asks no more on its own.
            let header = await Self.read(browser, "document.getElementById('connection').dataset.connection") { $0 == "token" }
            #expect(header == "token")
            let empty = await Self.read(browser, "document.getElementById('empty').textContent") { $0.contains("admin token") }
            #expect(empty.contains("needs its admin token"), "\(empty)")
            let prompts = browser.page.acceptedDialogs.count
            try await Task.sleep(for: .seconds(6))
            #expect(browser.page.acceptedDialogs.count == prompts, "asked again unprompted: \(browser.page.acceptedDialogs)")

            browser.page.answerPrompts(with: "s3cret")
            _ = try await browser.page.evaluate("(() => { document.getElementById('connection').click(); return true; })()", as: Bool.self)
            let live = await Self.read(browser, "document.getElementById('connection').dataset.connection") { $0 == "live" }
            #expect(live == "live")
            #expect(await Self.read(browser, Self.phase("default", "web")) { $0 == "Progressing" } == "Progressing")
            // Live, not polled: a check's event moves the card's verdicts within a couple of seconds.
            let first = await Self.read(browser, "String(document.querySelectorAll('[data-canary=\"web\"] svg[data-chart] circle[data-verdict]').length)") { Int($0) ?? 0 > 0 }
            let later = await Self.read(browser, "String(document.querySelectorAll('[data-canary=\"web\"] svg[data-chart] circle[data-verdict]').length)") { (Int($0) ?? 0) > (Int(first) ?? 0) }
            #expect((Int(later) ?? 0) > (Int(first) ?? 0), "\(first) → \(later)")

            // A fresh page whose first prompt is answered: the reads refused with it in flight go again with the
            // token given, and nobody is asked twice.
            let before = browser.page.acceptedDialogs.count
            _ = try await browser.page.evaluate("(() => { sessionStorage.clear(); location.reload(); return true; })()", as: Bool.self)
            #expect(await eventually(.seconds(20)) { browser.page.acceptedDialogs.count > before })
            let relive = await Self.read(browser, "document.getElementById('connection').dataset.connection") { $0 == "live" }
            #expect(relive == "live")
            #expect(await Self.read(browser, Self.phase("default", "web")) { $0 == "Progressing" } == "Progressing")
            #expect(browser.page.acceptedDialogs.count == before + 1, "\(browser.page.acceptedDialogs.suffix(3))")
        }
    }

    @Test("a click the API refuses (a wrong token) keeps its error on the card while the rollout's events refresh it")
    func refusalStays() async throws {
        try await Self.withDashboard(Self.slowSeedCanary, access: AdminAccess(token: "s3cret", readRequiresToken: false)) { browser, _ in
            #expect(await Self.read(browser, Self.phase("default", "web")) { $0 == "Progressing" } == "Progressing")
            browser.page.answerPrompts(with: "wrong")
            _ = try await browser.page.evaluate(
                "(() => { document.querySelector('[data-canary=\"web\"] [data-action=\"pause\"]').click(); return true; })()", as: Bool.self)
            let message = "(() => document.querySelector('[data-canary=\"web\"] [data-message]').textContent)()"
            // The confirmation, then the token prompt the 401 brings (a page held by a dialog answers no evaluation).
            #expect(await eventually(.seconds(10)) { browser.page.acceptedDialogs.count == 2 }, "\(browser.page.acceptedDialogs)")
            let refused = await Self.read(browser, message) { $0.hasPrefix("error: ") }
            #expect(refused.contains("is not the admin token"), "\(refused)")
            // Each second's check re-renders the card; the error is still what it says 4 s on.
            let steps = "(() => document.querySelectorAll('[data-canary=\"web\"] [data-events] li').length)()"
            let before = try await browser.page.evaluate(steps, as: Int.self)
            try await Task.sleep(for: .seconds(4))
            #expect(try await browser.page.evaluate(steps, as: Int.self) > before, "no event re-rendered the card")
            #expect(try await browser.page.evaluate(message, as: String.self) == refused)
        }
    }
}
