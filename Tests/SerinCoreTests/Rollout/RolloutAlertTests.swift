import SerinCore
import Testing

@Suite("Rollout alerts")
struct RolloutAlertTests {
    @Test("an alert hears events at its severity and above, as Flagger filters them", arguments: [
        (AlertSeverity.info, AlertSeverity.info, true), (.info, .warn, true), (.info, .error, true),
        (.warn, .info, false), (.warn, .warn, true), (.warn, .error, true),
        (.error, .info, false), (.error, .warn, false), (.error, .error, true),
    ])
    func severityFilter(alert: AlertSeverity, event: AlertSeverity, admitted: Bool) {
        #expect(alert.admits(event) == admitted)
    }

    static func rollout(_ alerts: [AlertSpec]) throws -> Rollout {
        var spec = try Fixture.spec(threshold: 2)
        spec.analysis.alerts = alerts
        return try Rollout(spec: spec)
    }

    static let provider = ResourceName(namespace: "shop", name: "on-call")

    /// Every alert posted, in order, as (alert name, event severity, message).
    static func sent(_ driver: Driver) -> [(String, AlertSeverity, String)] {
        driver.log.flatMap { action -> [(String, AlertSeverity, String)] in
            guard case .sendAlerts(let calls) = action else { return [] }
            return calls.map { ($0.alert.name, $0.severity, $0.message) }
        }
    }

    @Test("as Flagger alerts: a release's start (info) and its rollback (error), not its halts or its last word; each alert gets only what its severity admits")
    func severities() throws {
        let alerts = [
            AlertSpec(name: "team", severity: .info, provider: Self.provider),
            AlertSpec(name: "qa", severity: .warn, provider: Self.provider),
            AlertSpec(name: "pager", severity: .error, provider: Self.provider),
        ]
        var driver = Driver(try Self.rollout(alerts))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "request-success-rate 67.90% < 99% (canary web-v2-service, 1m, 112 requests)"))
        try driver.completeInterval(with: .fail(reason: "request-success-rate 67.90% < 99% (canary web-v2-service, 1m, 112 requests)"))
        // The rollback's weights applied: the failed rollout's last word, recorded but no alert.
        driver.send { $0.weightsApplied($0.split, now: t(61)) }
        let sent = Self.sent(driver)
        let messages = driver.log.messages
        #expect(messages.contains { $0.hasPrefix("web: halt: request-success-rate 67.90% < 99%") } && messages.last?.hasPrefix("web: rollout failed") == true)
        let rollback = "web: rolled back: request-success-rate 67.90% < 99% (canary web-v2-service, 1m, 112 requests) (2/2 failed checks)"
        #expect(sent.filter { $0.0 == "team" }.map(\.2) == [messages[0], rollback], "info hears the start and the rollback")
        #expect(sent.filter { $0.0 == "team" }.map(\.1) == [.info, .error])
        #expect(sent.filter { $0.0 == "pager" }.map(\.2) == [rollback])
        #expect(sent.filter { $0.0 == "qa" }.map(\.1) == [.error])
    }

    @Test("a promotion alerts when it completes; the steps between do not")
    func promotionAlerts() throws {
        var driver = Driver(try Self.rollout([AlertSpec(name: "team", severity: .info, provider: Self.provider)]))
        driver.start(0)
        while driver.rollout.status.phase == .progressing { try driver.completeInterval(with: .pass) }
        driver.send { $0.weightsApplied($0.split, now: t(1000)) }
        #expect(driver.rollout.status.phase == .succeeded)
        let sent = Self.sent(driver).map(\.2)
        #expect(sent.count == 2, "\(sent)")
        #expect(sent.first?.hasPrefix("web: rollout started") == true)
        #expect(sent.last?.hasPrefix("web: promotion completed") == true, "\(sent)")
        #expect(driver.log.messages.count > sent.count, "the steps are recorded, not alerted")
    }

    @Test("an alert carries the release, the weights and the failed checks beside the message")
    func numbers() throws {
        var driver = Driver(try Self.rollout([AlertSpec(name: "pager", severity: .error, provider: Self.provider)]))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "slow"))
        try driver.completeInterval(with: .fail(reason: "slow"))
        let call = try #require(driver.log.compactMap { action -> AlertCall? in
            if case .sendAlerts(let calls) = action { calls.first } else { nil }
        }.first)
        #expect(call.canary == Fixture.name)
        #expect(call.alert.provider == Self.provider)
        #expect(call.phase == .rollingBack)
        #expect(call.canaryWeight == 0 && call.stableWeight == 100)
        #expect(call.failedChecks == 2 && call.threshold == 2)
        #expect(call.facts.map(\.value) == ["web-v2-service", "web-v1-service", "RollingBack", "canary 0%, stable 100%", "2/2"])
    }

    @Test("a confirm gate held closed by a muteAlert hook records its event and sends no alert; by another hook, the alert goes as before; the first hook that fails decides, as in Flagger")
    func mutedGate() throws {
        var quiet = Fixture.hook(.confirmRollout, name: "quiet-gate")
        quiet.muteAlert = true
        var spec = try Fixture.spec(threshold: 2)
        spec.analysis.alerts = [AlertSpec(name: "team", severity: .info, provider: Self.provider)]
        spec.analysis.webhooks = [quiet, Fixture.hook(.confirmRollout, name: "loud-gate")]
        var driver = Driver(try Rollout(spec: spec))
        driver.start(0)
        func answer(_ results: [WebhookResult], at: Int) throws {
            let run = try #require(driver.log.webhookRuns.last { $0.type == .confirmRollout })
            driver.send { $0.webhookCompleted(ticket: run.ticket, result: run.result(of: results), alertMuted: run.mutesAlert(results), now: t(at)) }
        }
        let alertsBefore = Self.sent(driver).count
        try answer([.failed(reason: "quiet-gate answered 403"), .failed(reason: "loud-gate answered 403")], at: 1)
        #expect(driver.log.messages.last == "web: waiting for confirm-rollout approval: quiet-gate answered 403")
        #expect(Self.sent(driver).count == alertsBefore, "the muted hook's closed gate sent \(Self.sent(driver).dropFirst(alertsBefore))")

        driver.tick(31)
        try answer([.passed, .failed(reason: "loud-gate answered 403")], at: 31)
        #expect(Self.sent(driver).last?.2 == "web: waiting for confirm-rollout approval: loud-gate answered 403")
    }

    @Test("a Canary without alerts sends none")
    func none() throws {
        var driver = Driver(try Self.rollout([]))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "slow"))
        #expect(Self.sent(driver).isEmpty)
    }
}
