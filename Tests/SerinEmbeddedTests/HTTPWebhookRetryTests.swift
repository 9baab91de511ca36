import Foundation
import SerinCore
import SerinTesting
import SerinWebhooks
import Testing

/// Flagger's `retries` and `disableTLS` on a webhook, against real hooks on 127.0.0.1: a call that fails in a way that
/// may pass later is made again within the same check, with backoff; `disableTLS` calls an `https://` hook without
/// verifying its certificate.
@Suite("HTTP webhook retries and disableTLS", .timeLimit(.minutes(1)))
struct HTTPWebhookRetryTests {
    /// The first retry waits this long (Flagger's is 1s), the next twice as long, and so on.
    static let firstDelay = Duration.milliseconds(60)
    static let runner = HTTPWebhookRunner(firstRetryDelay: firstDelay)

    static func call(_ url: String, retries: Int = 0, disableTLS: Bool = false) -> WebhookCall {
        WebhookCall(
            webhook: WebhookSpec(name: "gate", type: .confirmPromotion, url: url, timeout: .seconds(5), retries: retries, disableTLS: disableTLS),
            payload: WebhookPayload(name: "web", namespace: "default", phase: "Progressing", canaryWeight: 50, stableWeight: 50, type: .confirmPromotion, metadata: [:])
        )
    }

    @Test("a hook with retries: 3 that answers 503, then 500, then 200 passes within one call, waiting 60ms then 120ms between calls")
    func retriedUntilItPasses() async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: 200)
        server.answer(first: [503, 500], then: 200)
        let started = ContinuousClock.now
        #expect(await Self.runner.call(Self.call(server.url, retries: 3)) == .passed)
        let took = ContinuousClock.now - started
        #expect(server.calls.count == 3)
        #expect(took >= Self.firstDelay * 3, "waited \(took), less than the backoff's 60ms + 120ms")
        await server.close()
        await backends.shutdown()
    }

    @Test("a 503 whose Retry-After is an HTTP date is called again no sooner than that date, not at the backoff's 60ms")
    func retryAfterDate() async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: 200)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        // Two seconds ahead, to the second: at least one whole second from now.
        server.askRetryAfter(formatter.string(from: Date().addingTimeInterval(2)))
        server.answer(first: [503], then: 200)
        let started = ContinuousClock.now
        #expect(await Self.runner.call(Self.call(server.url, retries: 1)) == .passed)
        let took = ContinuousClock.now - started
        #expect(server.calls.count == 2)
        #expect(took >= .seconds(1), "called again after \(took), before the date the hook named")
        await server.close()
        await backends.shutdown()
    }

    @Test(
        "Retry-After reads as seconds or as an HTTP date in each of its three forms, a past date as no wait, anything else as not asked",
        arguments: [
            ("2", 2_000), ("0", 0), ("Sun, 06 Nov 1994 08:49:40 GMT", 3_000), ("Sunday, 06-Nov-94 08:49:40 GMT", 3_000),
            ("Sun Nov  6 08:49:40 1994", 3_000), ("Sun, 06 Nov 1994 08:49:30 GMT", 0),
        ] as [(String, Int)]
    )
    func retryAfterForms(value: String, milliseconds: Int) {
        // 1994-11-06 08:49:37 GMT, RFC 9110's example date.
        let now = Date(timeIntervalSince1970: 784_111_777)
        #expect(HTTPWebhookRunner.retryAfter(value, now: now) == .milliseconds(milliseconds))
    }

    @Test("a Retry-After that is neither seconds nor a date, or negative, asks for nothing", arguments: ["-1", "soon", "", "Sun, 32 Nov 1994 08:49:40 GMT"])
    func retryAfterUnreadable(value: String) {
        #expect(HTTPWebhookRunner.retryAfter(value, now: Date()) == nil)
    }

    @Test("a hook failing more often than its retries fails after 1 + retries calls, saying how many; without retries it is called once")
    func retriesUsedUp() async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: 200)
        server.answer(first: [502, 502, 502, 502], then: 200)
        #expect(await Self.runner.call(Self.call(server.url, retries: 2)) == .failed(reason: "gate answered 502: not yet (3 calls)"))
        #expect(server.calls.count == 3)
        server.answer(first: [503], then: 200)
        #expect(await Self.runner.call(Self.call(server.url)) == .failed(reason: "gate answered 503: not yet"))
        #expect(server.calls.count == 4)
        await server.close()
        await backends.shutdown()
    }

    @Test("an answer that will not change is not asked again, as Flagger's client does not: a 4xx, or 501", arguments: [403, 404, 501])
    func notRetried(status: Int) async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: 200)
        server.answer(first: [status], then: 200)
        #expect(await Self.runner.call(Self.call(server.url, retries: 3)) == .failed(reason: "gate answered \(status): not yet"))
        #expect(server.calls.count == 1)
        await server.close()
        await backends.shutdown()
    }

    @Test("a hook passes with 200, 201 or 202 and fails with any other 2xx, as in Flagger, not called again", arguments: [200, 201, 202, 203, 204, 206])
    func passingAnswers(status: Int) async throws {
        let backends = TestBackends()
        let server = try await WebhookServer.start(group: backends.group, status: status)
        let result = await Self.runner.call(Self.call(server.url, retries: 2))
        if status <= 202 {
            #expect(result == .passed)
        } else {
            guard case .failed(let reason) = result else { Issue.record("\(status) passed"); return }
            #expect(reason.hasPrefix("gate answered \(status)"))
            #expect(reason.hasSuffix("(a hook passes with 200, 201 or 202, as in Flagger)"))
        }
        #expect(server.calls.count == 1)
        await server.close()
        await backends.shutdown()
    }

    @Test("an address that refuses the connection is tried again, and the failure says so after the last call")
    func refusedConnectionRetried() async throws {
        let refusing = try RefusingPort()
        let result = await Self.runner.call(Self.call("http://127.0.0.1:\(refusing.port)/", retries: 2))
        #expect(result == .failed(reason: "gate: connection refused (3 calls)"))
    }

    @Test("disableTLS: an https:// hook with a self-signed certificate is called without verifying it; without disableTLS the call fails on the certificate, and is not retried")
    func disableTLS() async throws {
        guard TestCertificates.shouldRun else { return }
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let pair = try await certificates.selfSigned("hook", hosts: ["127.0.0.1"])
        let backends = TestBackends()
        let hook = try await TLSBackend.start(name: "hook", certificate: pair.certificate, key: pair.key, group: backends.group)
        let url = "https://127.0.0.1:\(hook.port)/hook"

        let verified = await Self.runner.call(Self.call(url, retries: 2))
        guard case .failed(let reason) = verified else {
            Issue.record("a self-signed certificate was accepted without disableTLS")
            return
        }
        #expect(reason == "gate: its certificate is not trusted (CERTIFICATE_VERIFY_FAILED); Flagger's disableTLS: true calls it without verifying it")
        #expect(hook.connections == 1, "a refused certificate is not asked again")

        #expect(await Self.runner.call(Self.call(url, disableTLS: true)) == .passed)
        #expect(hook.connections == 2)
        await hook.close()
        await backends.shutdown()
    }
}
