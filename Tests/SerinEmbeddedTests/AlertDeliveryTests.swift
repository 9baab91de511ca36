import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SerinController
import SerinCore
import SerinListener
import SerinManifests
import SerinTesting
import SerinWebhooks
import Testing

/// Alerts as the services receive them: every provider type posted by the real sender to a receiver that checks
/// that service's documented payload shape, and a rollback on the embedded gateway arriving in Slack with its numbers.
@Suite("Alert delivery", .timeLimit(.minutes(2)))
struct AlertDeliveryTests {
    /// Providers by name, as a test declares them.
    struct Endpoints: AlertEndpoints {
        var table: [ResourceName: AlertEndpoint]

        func endpoint(for provider: ResourceName) async -> Result<AlertEndpoint, AlertEndpointUnavailable> {
            table[provider].map { .success($0) } ?? .failure(.init("AlertProvider \(provider) does not exist"))
        }
    }

    static let providerName = ResourceName(namespace: "shop", name: "on-call")

    static let rollback = AlertCall(
        alert: AlertSpec(name: "on-call", severity: .error, provider: providerName), severity: .error,
        canary: ResourceName(namespace: "shop", name: "web"),
        message: "web: rolled back: request-success-rate 67.90% < 99% (canary web-v2-service, 1m, 112 requests) (2/2 failed checks)",
        instant: RolloutInstant(sinceEpoch: .seconds(1_796_180_645)), phase: .rollingBack, canaryWeight: 0, stableWeight: 100,
        canaryDestination: Destination(host: "web-v2-service"), stableDestination: Destination(host: "web-v1-service"),
        failedChecks: 2, threshold: 2)

    static func withReceiver(_ body: (ChatReceiver) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let receiver = try await ChatReceiver.start(group: group)
        do {
            try await body(receiver)
        } catch {
            await receiver.close()
            throw error
        }
        await receiver.close()
    }

    static func sender(_ type: AlertProvider.Kind, address: String, token: String? = nil, timeout: Duration = .seconds(10)) -> HTTPAlertSender {
        let provider = AlertProvider(name: providerName, type: type, channel: "on-call-alerts", username: "serin")
        return HTTPAlertSender(
            endpoints: Endpoints(table: [providerName: AlertEndpoint(provider: provider, address: address, token: token)]), timeout: timeout)
    }

    @Test("each provider type posts the shape its service documents, with the message and the numbers", arguments: AlertProvider.Kind.allCases)
    func shapes(type: AlertProvider.Kind) async throws {
        try await Self.withReceiver { receiver in
            // Discord is given its webhook URL; the sender posts to its Slack-compatible endpoint, URL + /slack.
            let result = await Self.sender(type, address: receiver.url(type.rawValue)).send(Self.rollback)
            #expect(result == .passed, "\(receiver.refusals)")
            let message = try #require(receiver.messages.first)
            #expect(message.path == (type == .discord ? "/discord/slack" : "/\(type.rawValue)"))
            #expect(message.text.contains("request-success-rate 67.90% < 99%"))
            #expect(message.text.contains("2/2"))
            #expect(message.text.contains("web-v2-service"))
        }
    }

    @Test("Slack's attachment is red for a rollback and lists the facts; Teams' card is red too")
    func colours() async throws {
        try await Self.withReceiver { receiver in
            #expect(await Self.sender(.slack, address: receiver.url("slack")).send(Self.rollback) == .passed)
            #expect(await Self.sender(.msteams, address: receiver.url("msteams")).send(Self.rollback) == .passed)
            let slack = try #require(receiver.messages.first?.json["attachments"] as? [[String: Any]]).first
            #expect(slack?["color"] as? String == "danger")
            #expect(slack?["author_name"] as? String == "web.shop")
            let titles = (slack?["fields"] as? [[String: Any]])?.compactMap { $0["title"] as? String }
            #expect(titles == ["Canary", "Stable", "Phase", "Traffic", "Failed checks"])
            #expect(receiver.messages.first?.json["channel"] as? String == "on-call-alerts")
            #expect(receiver.messages.last?.json["themeColor"] as? String == "FF0000")
        }
    }

    @Test("the generic webhook carries the event's fields and an RFC 3339 time")
    func generic() async throws {
        try await Self.withReceiver { receiver in
            #expect(await Self.sender(.webhook, address: receiver.url("webhook")).send(Self.rollback) == .passed, "\(receiver.refusals)")
            let json = try #require(receiver.messages.first?.json)
            #expect(json["timestamp"] as? String == "2026-12-02T03:04:05Z")
            #expect(json["severity"] as? String == "error")
            #expect(json["phase"] as? String == "RollingBack")
            #expect(json["failedChecks"] as? Int == 2)
            #expect(json["name"] as? String == "web" && json["namespace"] as? String == "shop")
        }
    }

    @Test("a Secret's token is sent as a bearer token")
    func token() async throws {
        try await Self.withReceiver { receiver in
            #expect(await Self.sender(.slack, address: receiver.url("slack"), token: "xoxb-1").send(Self.rollback) == .passed)
            #expect(receiver.messages.first?.authorization == "Bearer xoxb-1")
        }
    }

    @Test("a provider's proxy is posted through: it is asked to tunnel to the provider's host, and its refusal does not reveal the URL")
    func proxy() async throws {
        let asked = NIOLockedValueBox<[String]>([])
        // A proxy that refuses every tunnel: what the sender asked of it is the point.
        let proxy = try await TestHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { request in
            asked.withLockedValue { $0.append("\(request.method) \(request.header("host") ?? "")") }
            return .text("no\n", status: 403)
        }
        let provider = AlertProvider(name: Self.providerName, type: .slack, proxy: "http://127.0.0.1:\(proxy.port)")
        // A host no resolver knows: only the proxy can reach it.
        let endpoint = AlertEndpoint(provider: provider, address: "http://chat.invalid/hooks/T0/B0")
        let result = await HTTPAlertSender(endpoints: Endpoints(table: [Self.providerName: endpoint]), timeout: .seconds(2)).send(Self.rollback)
        await proxy.close()
        // (A refused tunnel is a failed connection, which the client tries again until the post's time is up.)
        let tunnels = asked.withLockedValue { $0 }
        #expect(!tunnels.isEmpty && tunnels.allSatisfy { $0 == "CONNECT chat.invalid" }, "\(tunnels)")
        guard case .failed(let reason) = result else { Issue.record("posted through a proxy that refused"); return }
        #expect(reason.hasPrefix("slack provider 'shop/on-call': "))
        #expect(!reason.contains("chat.invalid") && !reason.contains("hooks/T0"), "\(reason)")
    }

    @Test("a failed post names the provider and the answer, never the address; a refused connection fails the attempt at once")
    func failureReason() async throws {
        try await Self.withReceiver { receiver in
            receiver.fail(next: 1)
            let address = receiver.url("slack")
            let answered = await Self.sender(.slack, address: address).send(Self.rollback)
            #expect(answered == .failed(reason: "slack provider 'shop/on-call' answered 503"))
            let port = try RefusingPort()
            let unreachable = "http://127.0.0.1:\(port.port)/services/T000/B000/secret-token"
            let started = ContinuousClock.now
            let refused = await Self.sender(.slack, address: unreachable, timeout: .seconds(20)).send(Self.rollback)
            let tried = ContinuousClock.now - started
            guard case .failed(let reason) = refused else { Issue.record("posted to a closed port"); return }
            #expect(reason == "slack provider 'shop/on-call': connection refused", "\(reason)")
            #expect(!reason.contains("secret-token") && !reason.contains("127.0.0.1"), "\(reason)")
            // The attempt fails as the connection is refused, not after reconnecting until its 20 s deadline: the
            // controller's own retries pace the attempts.
            #expect(tried < .seconds(10), "\(tried)")
        }
    }
}

/// A rollback on the embedded gateway reaches Slack: the AlertProvider and the Secret holding its URL given as
/// files, as `serin up -f` reads them.
@Suite("Alerts end to end", .timeLimit(.minutes(2)))
struct AlertRolloutTests {
    static func providerFiles(address: String) -> ManifestSource {
        ManifestSource(path: "alerts.yaml", text: """
            apiVersion: flagger.app/v1beta1
            kind: AlertProvider
            metadata:
              name: on-call
            spec:
              type: slack
              channel: on-call-alerts
              secretRef:
                name: on-call-url
            ---
            apiVersion: v1
            kind: Secret
            metadata:
              name: on-call-url
            stringData:
              address: "\(address)"
            """)
    }

    static let alerts = """
            alerts:
            - name: on-call Slack
              severity: error
              providerRef: {name: on-call}
        """

    /// A canary failing half its requests, rolled back after two failed checks, with an error alert to a Slack
    /// receiver answering 503 to its first `failing` posts; the body runs once it is rolled back.
    static func rollBack(
        failing: Int = 0, _ body: (ChatReceiver, LogRecorder, CanaryStatus) async throws -> Void
    ) async throws {
        let receiver = try await ChatReceiver.start(group: MultiThreadedEventLoopGroup.singleton)
        receiver.fail(next: failing)
        let logs = LogRecorder()
        try await CanaryRolloutTests.withHarness(
            canary: SeedManifests.canary(interval: "400ms", threshold: 2, webhooks: Self.alerts),
            extra: [Self.providerFiles(address: receiver.url("slack"))], canaryErrorRate: 0.5, logger: logs.logger()
        ) { harness in
            try await body(receiver, logs, try await harness.waitFor("Failed") { $0.phase.isFinished })
        }
        await receiver.close()
        // The URL, or even where it points, is in no line the controller and the gateway logged.
        let address = receiver.url("slack")
        let hostAndPort = String(address.dropFirst("http://".count).prefix { $0 != "/" })
        #expect(!logs.entries.isEmpty)
        #expect(!logs.entries.contains { "\($0)".contains(address) || "\($0)".contains(hostAndPort) }, "the provider's URL was logged")
    }

    @Test("a rolled back canary is told to Slack once, as an error with the failing check's numbers; the URL is never logged")
    func rollbackReachesSlack() async throws {
        try await Self.rollBack { receiver, _, final in
            #expect(final.phase == .failed)
            #expect(await eventually(.seconds(20)) { !receiver.messages.isEmpty }, "\(receiver.refusals)")
            // Alerts go out after the state is saved, in order; give a stray second one time to show up.
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.messages.count == 1, "error alerts hear only the rollback: \(receiver.messages.map(\.text))")
            let attachment = try #require((receiver.messages.first?.json["attachments"] as? [[String: Any]])?.first)
            let text = try #require(attachment["text"] as? String)
            #expect(text.hasPrefix("web: rolled back: request-success-rate "), "\(text)")
            #expect(text.contains("% < 99%") && text.contains(" requests)") && text.contains("(2/2 failed checks)"), "\(text)")
            #expect(attachment["color"] as? String == "danger")
            #expect(receiver.messages.first?.json["channel"] as? String == "on-call-alerts")
        }
    }

    @Test("a provider that keeps failing is given up with a warning naming it, not its URL; the rollout is not held up")
    func failingProviderIsNamed() async throws {
        try await Self.rollBack(failing: 1_000) { _, logs, final in
            #expect(final.phase == .failed)
            #expect(await logs.eventuallyLogs("alert 'on-call Slack' not delivered after 3 attempts: slack provider 'default/on-call' answered 503"),
                    "\(logs.messages.suffix(5))")
        }
    }
}
