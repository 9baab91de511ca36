import Foundation
import SerinCore
import Testing

@Suite("Rollout webhooks")
struct RolloutWebhookTests {
    @Test("each gate holds while it says no, is asked again next interval (at a weight, once that interval's check passed, as Flagger goes on judging), and releases on yes", arguments: [
        WebhookType.confirmRollout, .confirmTrafficIncrease, .confirmPromotion,
    ])
    func gates(gate: WebhookType) throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 50], webhooks: [Fixture.hook(gate)]))
        driver.start(0)
        var now = 0
        // confirm-traffic-increase is asked before the first weight, from 0, as Flagger asks it.
        if gate == .confirmPromotion {
            now = try driver.completeInterval(with: .pass)
            now = try driver.completeInterval(with: .pass)
        }
        let weightBefore = driver.rollout.status.canaryWeight
        // A gate waiting at a weight judges the canary each interval before it is asked again.
        let judged = weightBefore > 0
        func interval(_ at: Int) {
            driver.tick(at)
            if judged { driver.verdict(.pass, at) }
        }
        #expect(driver.log.webhookRuns.filter { $0.type == gate }.count == 1)
        #expect(driver.rollout.status.stage.rawValue == gate.rawValue)

        let held = try driver.answer(gate, .failed(reason: "not approved yet"), now + 1)
        #expect(held.actions.messages == ["web: waiting for \(gate) approval: not approved yet"])
        #expect(driver.rollout.status.canaryWeight == weightBefore)
        #expect(driver.rollout.status.holdReason == "\(gate) gate closed: not approved yet")
        #expect(driver.rollout.status.failedChecks == 0, "a closed gate is not a failure")
        driver.tick(now + 30)
        #expect(driver.log.webhookRuns.filter { $0.type == gate }.count == 1, "not asked again before the interval")
        let checks = driver.log.analysisRequests.count
        interval(now + 31)
        #expect(driver.log.analysisRequests.count == checks + (judged ? 1 : 0))
        #expect(driver.log.webhookRuns.filter { $0.type == gate }.count == 2)
        // As Flagger: one Warning when the wait begins, not one per interval; a new answer is said again.
        let severities: [RolloutEvent.Severity] = held.actions.compactMap { action in
            guard case .record(let event) = action else { return nil }
            return event.severity
        }
        #expect(severities == [.warning])
        let again = try driver.answer(gate, .failed(reason: "not approved yet"), now + 31)
        #expect(again.actions.messages.isEmpty)
        interval(now + 62)
        let changed = try driver.answer(gate, .failed(reason: "change freeze"), now + 62)
        #expect(changed.actions.messages == ["web: waiting for \(gate) approval: change freeze"])
        interval(now + 93)
        now += 61

        try driver.answer(gate, .passed, now + 32)
        switch gate {
        case .confirmRollout:
            #expect(driver.rollout.status.canaryWeight == 10)
            #expect(driver.rollout.status.phase == .progressing)
        case .confirmTrafficIncrease:
            #expect(driver.rollout.status.canaryWeight == 10)
            #expect(driver.rollout.status.phase == .progressing)
        default:
            #expect(driver.rollout.status.phase == .succeeded)
            #expect(driver.log.messages.contains("web: promotion confirmed, promoting canary web-v2-service to 100%"))
        }
    }

    @Test("confirm-traffic-increase gates every weight increase, the first from 0 included, as Flagger asks it before any live traffic reaches the canary")
    func trafficIncreaseGate() throws {
        var driver = Driver(try Fixture.rollout(weights: [10, 20, 30], webhooks: [Fixture.hook(.confirmTrafficIncrease)]))
        driver.start(0)
        #expect(driver.rollout.status.stage == .confirmTrafficIncrease)
        #expect(driver.log.canaryWeights == [0], "no live traffic before the gate says yes")
        try driver.answer(.confirmTrafficIncrease, .passed, 1)
        #expect(driver.rollout.status.canaryWeight == 10)
        try driver.completeInterval(with: .pass)
        #expect(driver.rollout.status.canaryWeight == 10)
        try driver.answer(.confirmTrafficIncrease, .passed, 31)
        #expect(driver.rollout.status.canaryWeight == 20)
        try driver.completeInterval(with: .pass)
        try driver.answer(.confirmTrafficIncrease, .passed, 62)
        #expect(driver.rollout.status.canaryWeight == 30)
        try driver.completeInterval(with: .pass)
        #expect(driver.log.webhookRuns.count == 3, "promotion after the last step does not ask confirm-traffic-increase")
        #expect(driver.rollout.status.phase == .succeeded)
    }

    @Test("a closed gate waits past the progress deadline, as Flagger's waits for a person; at a weight the canary is judged each interval meanwhile, and failing checks roll it back at the threshold, not promote it on the approval")
    func closedGateWaitsAndJudges() throws {
        var driver = Driver(try Fixture.rollout(weights: [10], threshold: 2, deadline: .seconds(90), webhooks: [Fixture.hook(.confirmPromotion)]))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        try driver.answer(.confirmPromotion, .failed(reason: "change freeze"), 30)
        for at in stride(from: 60, through: 210, by: 30) {
            driver.tick(at)
            driver.verdict(.pass, at)
            try driver.answer(.confirmPromotion, .failed(reason: "change freeze"), at)
        }
        #expect(driver.rollout.status.phase == .progressing && driver.rollout.status.stage == .confirmPromotion, "past the 90s deadline, still waiting")
        #expect(driver.rollout.status.canaryWeight == 10 && driver.rollout.status.failedChecks == 0)
        // Flagger's words: the status waits for promotion, and the gate is asked as Flagger asks it, with Progressing.
        #expect(driver.rollout.status.flaggerPhase == "WaitingPromotion")
        let shown = CanaryStatus(rollout: driver.rollout, measurements: [])
        #expect(shown.phaseLabel == "WaitingPromotion" && shown.phase == .progressing)
        #expect(String(decoding: try JSONEncoder().encode(shown), as: UTF8.self).contains(#""flaggerPhase":"WaitingPromotion""#))
        let asked = driver.log.webhookRuns.filter { $0.type == .confirmPromotion }.flatMap(\.calls)
        #expect(asked.count == 7 && asked.allSatisfy { $0.payload.phase == "Progressing" }, "\(asked.map(\.payload.phase))")
        driver.tick(240)
        driver.verdict(.fail(reason: "success rate 50% < 99%"), 240)
        #expect(driver.rollout.status.failedChecks == 1 && driver.rollout.status.stage == .confirmPromotion)
        driver.tick(270)
        driver.verdict(.fail(reason: "success rate 50% < 99%"), 270)
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.messages.contains("web: rolled back: success rate 50% < 99% (2/2 failed checks)"), "\(driver.log.messages)")
    }

    @Test("a failing pre-rollout hook counts as a failed check and is retried next interval", arguments: [1, 2, 3])
    func preRolloutFailure(threshold: Int) throws {
        var driver = Driver(try Fixture.rollout(threshold: threshold, webhooks: [Fixture.hook(.preRollout, name: "load-test")]))
        driver.start(0)
        #expect(driver.log.canaryWeights == [0], "no canary traffic before pre-rollout hooks pass")
        for attempt in 1...threshold {
            if attempt > 1 { driver.tick(30 * (attempt - 1)) }
            try driver.answer(.preRollout, .failed(reason: "load-test: HTTP 500"), 30 * (attempt - 1))
            #expect(driver.rollout.status.failedChecks == attempt)
        }
        #expect(driver.rollout.status.phase == .failed)
        #expect(driver.log.webhookRuns.filter { $0.type == .preRollout }.count == threshold)
        #expect(driver.log.messages.contains(
            "web: rolled back: pre-rollout hook failed: load-test: HTTP 500 (\(threshold)/\(threshold) failed checks)"))
        if threshold > 1 {
            #expect(driver.log.messages.contains("web: halt: pre-rollout hook failed: load-test: HTTP 500 (1/\(threshold) failed checks)"))
        }
    }

    @Test("pre-rollout hooks run once, then the first weight is set")
    func preRolloutPasses() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.preRollout)]))
        driver.start(0)
        try driver.answer(.preRollout, .passed, 5)
        #expect(driver.log.canaryWeights == [0, 10])
        try driver.completeInterval(with: .pass)
        #expect(driver.log.webhookRuns.count == 1)
    }

    @Test("rollout hooks run before each analysis; a failure counts and skips that analysis", arguments: [
        (WebhookResult.passed, 1, 0), (.failed(reason: "hey: connection refused"), 0, 1),
    ])
    func rolloutHooks(result: WebhookResult, analyses: Int, failedChecks: Int) throws {
        var driver = Driver(try Fixture.rollout(threshold: 3, webhooks: [Fixture.hook(.rollout)]))
        driver.start(0)
        driver.tick(30)
        #expect(driver.log.webhookRuns.map(\.type) == [.rollout])
        #expect(driver.log.analysisRequests.isEmpty)
        try driver.answer(.rollout, result, 31)
        #expect(driver.log.analysisRequests.count == analyses)
        #expect(driver.rollout.status.failedChecks == failedChecks)
    }

    @Test("a rollback hook that says yes rolls back; no lets the interval go on", arguments: [true, false])
    func rollbackHook(says yes: Bool) throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.rollback), Fixture.hook(.rollout)]))
        driver.start(0)
        driver.tick(30)
        #expect(driver.log.webhookRuns.map(\.type) == [.rollback], "the rollback switch is asked first")
        try driver.answer(.rollback, yes ? .passed : .failed(reason: "HTTP 403"), 31)
        if yes {
            #expect(driver.rollout.status.phase == .failed)
            #expect(driver.log.messages.contains("web: rolled back: a rollback webhook asked for it"))
        } else {
            #expect(driver.log.webhookRuns.map(\.type) == [.rollback, .rollout])
            #expect(driver.rollout.status.phase == .progressing)
            #expect(driver.rollout.status.failedChecks == 0)
        }
    }

    @Test("post-rollout hooks run after promotion and after rollback; their failure does not change the outcome", arguments: [
        (true, WebhookResult.passed, RolloutPhase.succeeded), (true, .failed(reason: "slack down"), .succeeded),
        (false, .passed, .failed), (false, .failed(reason: "slack down"), .failed),
    ])
    func postRollout(promote: Bool, result: WebhookResult, final: RolloutPhase) throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.postRollout, metadata: ["channel": "#releases"])]))
        driver.start(0)
        driver.send { promote ? $0.promote(now: t(5)) : $0.abort(now: t(5)) }
        let run = try #require(driver.log.webhookRuns.last)
        #expect(run.type == .postRollout)
        // The outcome the hook runs after, in Flagger's words: Succeeded or Failed, though the phase is still
        // Promoting or RollingBack until it answers.
        #expect(run.calls.map(\.payload) == [WebhookPayload(
            name: "web", namespace: "shop", phase: promote ? "Succeeded" : "Failed", checksum: driver.rollout.releaseChecksum,
            canaryWeight: promote ? 100 : 0, stableWeight: promote ? 0 : 100, type: .postRollout,
            metadata: ["channel": "#releases"])])
        #expect(driver.rollout.status.phase == (promote ? .promoting : .rollingBack))
        try driver.answer(.postRollout, result, 6)
        #expect(driver.rollout.status.phase == final)
        #expect(driver.log.finished == [final])
        if case .failed = result {
            #expect(driver.log.messages.contains("web: post-rollout hook failed: slack down"))
        }
    }

    @Test("post-rollout hooks that never answer still let the rollout finish at the deadline")
    func postRolloutDeadline() throws {
        var driver = Driver(try Fixture.rollout(deadline: .seconds(60), webhooks: [Fixture.hook(.postRollout)]))
        driver.start(0)
        driver.send { $0.promote(now: t(5)) }
        #expect(driver.rollout.nextWakeUp == t(65))
        driver.tick(64)
        #expect(driver.rollout.status.phase == .promoting)
        driver.tick(65)
        #expect(driver.rollout.status.phase == .succeeded)
        #expect(driver.log.messages.contains("web: post-rollout hooks did not answer within the 1m progress deadline"))
    }

    @Test("every event is sent to every event webhook, without waiting for an answer", arguments: [["slack"], ["slack", "audit"]])
    func eventWebhooks(names: [String]) throws {
        let hooks = names.map { Fixture.hook(.event, name: $0) }
        var driver = Driver(try Fixture.rollout(webhooks: hooks))
        driver.start(0)
        try driver.completeInterval(with: .fail(reason: "slow"))
        try driver.completeInterval(with: .pass)
        #expect(driver.log.messages.count == 4)
        #expect(driver.log.notifications.count == driver.log.messages.count)
        for (calls, event) in zip(driver.log.notifications, driver.log.events) {
            #expect(calls.map(\.webhook.name) == names)
            #expect(calls.allSatisfy { $0.payload.message == event.message && $0.payload.type == .event })
            // Flagger's event payload: the event in the metadata, with its type and its time in Unix milliseconds.
            let milliseconds = String(event.instant.sinceEpoch.components.seconds * 1000)
            #expect(calls.allSatisfy {
                $0.payload.metadata == ["eventMessage": event.message, "eventType": event.severity.rawValue, "timestamp": milliseconds]
            })
        }
        #expect(Set(driver.log.events.map(\.severity)) == [.normal, .warning], "the failed check is a Warning, the others Normal")
        #expect(!driver.log.webhookRuns.contains { $0.type == .event }, "event webhooks are never awaited")
    }

    @Test("every call of one release carries the same checksum, 16 hex digits, and the next release another, as Flagger's checksum names the canary's spec")
    func checksumNamesTheRelease() throws {
        let hooks = [Fixture.hook(.event, name: "audit")]
        var driver = Driver(try Fixture.rollout(webhooks: hooks))
        driver.start(0)
        try driver.completeInterval(with: .pass)
        let first = Set(driver.log.notifications.flatMap { $0.map(\.payload.checksum) })
        #expect(first.count == 1)
        let checksum = try #require(first.first)
        #expect(checksum.count == 16 && checksum.allSatisfy(\.isHexDigit), "\(checksum)")
        var next = driver.rollout.spec
        next.canary = Destination(host: "web-v3-service", port: 80)
        var other = Driver(try Rollout(spec: next, stable: Destination(host: "web-v1-service", port: 80)))
        other.start(0)
        let second = Set(other.log.notifications.flatMap { $0.map(\.payload.checksum) })
        #expect(second.count == 1 && second != first)
    }

    @Test("webhook answers with a ticket the rollout is not waiting for are refused as stale")
    func staleTickets() throws {
        var driver = Driver(try Fixture.rollout(webhooks: [Fixture.hook(.confirmRollout)]))
        driver.start(0)
        let first = try #require(driver.log.webhookRuns.last?.ticket)
        try driver.answer(.confirmRollout, .failed(reason: "no"), 1)
        driver.tick(31)
        #expect(driver.send { $0.webhookCompleted(ticket: first, result: .passed, now: t(32)) } == .rejected(.staleResult(first)))
        #expect(driver.rollout.status.canaryWeight == 0)
        driver.send { $0.pause(now: t(33)) }
        let second = try #require(driver.log.webhookRuns.last?.ticket)
        #expect(second != first)
        #expect(driver.send { $0.webhookCompleted(ticket: second, result: .passed, now: t(34)) } == .rejected(.staleResult(second)),
                "pausing abandons the request in flight")
        #expect(RolloutRejection.staleResult(second).description == "result for request \(second) arrived after the rollout moved on; ignored")
    }

    @Test("a webhook run combines its calls as Flagger does", arguments: [
        (WebhookType.confirmPromotion, [WebhookResult.passed, .passed], WebhookResult.passed),
        (.confirmPromotion, [.passed, .failed(reason: "b said no"), .failed(reason: "c said no")], .failed(reason: "b said no")),
        (.preRollout, [], .passed),
        (.rollback, [.failed(reason: "403"), .passed], .passed),
        (.rollback, [.failed(reason: "403"), .failed(reason: "timeout")], .failed(reason: "403")),
        (.rollback, [], .failed(reason: "no rollback webhook answered")),
    ])
    func combining(type: WebhookType, results: [WebhookResult], expected: WebhookResult) {
        let run = WebhookRun(ticket: RolloutTicket(1), type: type, calls: [])
        #expect(run.result(of: results) == expected)
    }

    @Test("the payload encodes to Flagger-shaped JSON")
    func payloadJSON() throws {
        let payload = WebhookPayload(name: "web", namespace: "shop", phase: "Progressing", checksum: "00ab", canaryWeight: 20, stableWeight: 80,
                                     type: .confirmTrafficIncrease, metadata: ["cmd": "hey -z 1m http://web"], message: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        #expect(json == #"{"canaryWeight":20,"checksum":"00ab","metadata":{"cmd":"hey -z 1m http://web"},"name":"web","namespace":"shop","phase":"Progressing","stableWeight":80,"type":"confirm-traffic-increase"}"#)
        #expect(try JSONDecoder().decode(WebhookPayload.self, from: Data(json.utf8)) == payload)
    }
}
