import NIOHTTP1
import SerinCore
@testable import SerinGateway
import Testing

/// The proxy's decisions as event sequences: no sockets, no clocks, no sleeps.
@Suite("Proxy connection state machine")
struct ProxyStateMachineTests {
    typealias Machine = ProxyStateMachine

    /// A machine with a fixed seed, so backoffs repeat from run to run.
    static func machine() -> Machine { Machine(random: FastRandom(seed: 42)) }

    /// A keep-alive HTTP/1.1 request without a body, routed upstream with `retries`, connected and sent.
    static func sent(retries: Int = 0, keepAlive: Bool = true, version: HTTPVersion = .http1_1) -> Machine {
        var machine = machine()
        #expect(machine.requestHead(keepAlive: keepAlive, version: version, hasBody: false) == .route)
        #expect(machine.routedUpstream(retries: retries, delayed: false) == .connect)
        #expect(machine.requestEnded() == .endRequest)
        #expect(machine.upstreamConnected() == .sendRequest)
        return machine
    }

    /// A keep-alive HTTP/1.1 request routed upstream with `retries`, not connected yet.
    static func routed(hasBody: Bool, retries: Int = 0, delayed: Bool = false) -> Machine {
        var machine = machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: hasBody)
        _ = machine.routedUpstream(retries: retries, delayed: delayed)
        return machine
    }

    static let connectRetries = HTTPRetry(attempts: 2)

    @Test("a request answered and ended leaves the connection open for the next one")
    func keepAliveExchange() {
        var machine = Self.sent()
        #expect(!machine.mayStartRequest)
        #expect(
            machine.answer(200)
                == .startResponse(keepAlive: true, decodeChunks: false))
        #expect(machine.upstreamEnded() == .finishResponse(code: 200, flag: .noFlag, keepAlive: true, reuseUpstream: true))
        #expect(machine.mayStartRequest)
        #expect(!machine.closing)
    }

    @Test("a pipelined request waits until the answer before it has ended, and holds reads meanwhile")
    func pipeliningOrder() {
        var machine = Self.sent()
        #expect(!machine.mayStartRequest, "the second head is not read while the first exchange is under way")
        #expect(machine.holdsReads(pipelinedBytesWaiting: true, upstreamWritable: true))
        #expect(!machine.holdsReads(pipelinedBytesWaiting: false, upstreamWritable: true))
        _ = machine.answer(200)
        #expect(!machine.mayStartRequest, "an answer under way still holds the next request")
        _ = machine.upstreamEnded()
        #expect(machine.mayStartRequest)
        #expect(!machine.holdsReads(pipelinedBytesWaiting: true, upstreamWritable: true))
        #expect(machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false) == .route)
    }

    @Test("a request head is not taken while another request is in flight")
    func headRefusedWhileBusy() {
        var machine = Self.sent()
        #expect(machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false) == .none)
        #expect(machine.exchange?.request.keepAlive == true)
    }

    @Test(
        "local answers carry Envoy's status and flag",
        arguments: [
            (Machine.LocalAnswer.noRoute, 404, ResponseFlag.noRoute, "NR"),
            (.noHealthyUpstream, 503, .noHealthyUpstream, "UH"),
            (.faultAbort(status: 418), 418, .faultInjected, "FI"),
            (.direct(status: 200), 200, .noFlag, "-"),
            (.redirect(status: 301), 301, .noFlag, "-"),
        ])
    func localAnswers(answer: Machine.LocalAnswer, status: Int, flag: ResponseFlag, printed: String) {
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        #expect(machine.routed(answer) == .answerLocally(status: status, flag: flag, keepAlive: true))
        #expect(flag.description == printed)
        #expect(machine.requestEnded() == .becomeIdle)
        #expect(machine.mayStartRequest)
    }

    @Test("a local answer to a request with a body closes the connection instead of draining the body")
    func localAnswerWithBodyCloses() {
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: true)
        #expect(machine.routed(.noRoute) == .answerLocally(status: 404, flag: .noRoute, keepAlive: false))
        #expect(machine.requestBody(bytes: 10) == .discardBody)
        #expect(machine.closing)
        #expect(!machine.mayStartRequest)
    }

    @Test("connect failures are retried with a doubling backoff, then answered 503 UF once the budget is spent")
    func connectFailureRetriesThenUF() throws {
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        #expect(machine.routedUpstream(retries: 2, delayed: false) == .connect)
        _ = machine.requestEnded()
        for retry in 1...2 {
            let action = machine.upstreamFailed(overflow: false, retries: Self.connectRetries)
            guard case .retry(.connectFailure, code: 503, flag: .upstreamConnectionFailure, let backoff) = action else {
                Issue.record("retry \(retry): \(action)")
                return
            }
            let ceiling = Machine.backoffCeiling(afterRetry: retry)
            #expect(backoff >= .microseconds(1) && backoff <= .microseconds(ceiling), "retry \(retry): \(backoff)")
            #expect(machine.backoffElapsed() == .connect)
        }
        #expect(machine.upstreamFailed(overflow: false, retries: Self.connectRetries) == .fail(.connectFailure, keepAlive: true))
        #expect(Machine.UpstreamFailure.connectFailure.status == 503)
        #expect(Machine.UpstreamFailure.connectFailure.flag.rawValue == "UF")
        #expect(machine.mayStartRequest, "the request was read whole: the connection serves the next one")
    }

    @Test("a route's retries.backoff is the base each retry's backoff grows from")
    func routeBackoff() {
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        _ = machine.routedUpstream(retries: 10, delayed: false)
        _ = machine.requestEnded()
        let policy = HTTPRetry(attempts: 10, backoff: .milliseconds(1))
        for retry in 1...10 {
            guard case .retry(_, _, _, let backoff) = machine.upstreamFailed(overflow: false, retries: policy) else {
                Issue.record("retry \(retry) not taken")
                return
            }
            #expect(backoff <= .microseconds(Machine.backoffCeiling(afterRetry: retry, base: .milliseconds(1))), "retry \(retry): \(backoff)")
            _ = machine.backoffElapsed()
        }
    }

    @Test("Envoy's backoff ceiling doubles from the base (25ms, or the route's retries.backoff) per retry, up to ten times the base")
    func backoffCeiling() {
        #expect((1...6).map { Machine.backoffCeiling(afterRetry: $0) } == [25, 50, 100, 200, 250, 250].map { $0 * 1000 })
        #expect((1...6).map { Machine.backoffCeiling(afterRetry: $0, base: .milliseconds(100)) } == [100, 200, 400, 800, 1000, 1000].map { $0 * 1000 })
        #expect(Machine.backoffCeiling(afterRetry: 3, base: .milliseconds(1)) == 4000)
    }

    @Test("the circuit breaker's overflow is answered 503 UO at once, never retried")
    func overflowNotRetried() {
        var machine = Self.routed(hasBody: false, retries: 2)
        _ = machine.requestEnded()
        #expect(machine.upstreamFailed(overflow: true, retries: Self.connectRetries) == .fail(.overflow, keepAlive: true))
        #expect(Machine.UpstreamFailure.overflow.flag == .upstreamOverflow)
    }

    @Test("an overflow decided before a bodyless request's end was read keeps the connection: the end makes it idle, as Envoy keeps it")
    func overflowBeforeEndKeepsAlive() {
        var machine = Self.routed(hasBody: false, retries: 2)
        #expect(machine.upstreamFailed(overflow: true, retries: Self.connectRetries) == .fail(.overflow, keepAlive: true))
        #expect(machine.requestEnded() == .becomeIdle)
        #expect(!machine.closing)
        #expect(machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false) == .route)
    }

    @Test("a route without retries fails on the first connect failure")
    func noRetriesNoRetry() {
        var machine = Self.routed(hasBody: false)
        _ = machine.requestEnded()
        #expect(machine.upstreamFailed(overflow: false, retries: nil) == .fail(.connectFailure, keepAlive: true))
    }

    @Test("a failure before the request body ended answers, then closes after discarding the rest")
    func failureMidBodyCloses() {
        var machine = Self.routed(hasBody: true)
        #expect(machine.requestBody(bytes: 100) == .forwardBody(toUpstream: false, replay: .none))
        #expect(machine.upstreamFailed(overflow: false, retries: nil) == .fail(.connectFailure, keepAlive: false))
        #expect(machine.requestBody(bytes: 100) == .discardBody)
        #expect(machine.closing)
    }

    @Test("an answer that begins before the request's body has all arrived says it closes the connection, and closes it; one after the body's end keeps it")
    func earlyAnswerCloses() {
        var early = Self.routed(hasBody: true)
        _ = early.upstreamConnected()
        _ = early.requestBody(bytes: 10)
        #expect(early.answer(413) == .startResponse(keepAlive: false, decodeChunks: false))
        #expect(early.requestBody(bytes: 10) == .forwardBody(toUpstream: true, replay: .none))
        _ = early.requestEnded()
        #expect(early.upstreamEnded() == .finishResponse(code: 413, flag: .noFlag, keepAlive: false, reuseUpstream: true))
        #expect(early.closing)

        var late = Self.routed(hasBody: true)
        _ = late.upstreamConnected()
        _ = late.requestBody(bytes: 10)
        _ = late.requestEnded()
        #expect(late.answer(413) == .startResponse(keepAlive: true, decodeChunks: false))
        #expect(late.upstreamEnded() == .finishResponse(code: 413, flag: .noFlag, keepAlive: true, reuseUpstream: true))
        #expect(!late.closing)
    }

    @Test("a per-try timeout is retried, and answered 504 UT when no retry is left")
    func perTryTimeout() {
        let policy = HTTPRetry(attempts: 1, perTryTimeout: .milliseconds(100), retryOn: [.gatewayError])
        var machine = Self.sent(retries: 1)
        guard case .retry(.perTryTimeout, code: 504, flag: .upstreamRequestTimeout, _) = machine.tryTimedOut(retries: policy) else {
            Issue.record("the first per-try timeout is retried")
            return
        }
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.upstreamConnected() == .sendRequest)
        #expect(machine.tryTimedOut(retries: policy) == .fail(.perTryTimeout, keepAlive: true))
        #expect(Machine.UpstreamFailure.perTryTimeout.status == 504)
        #expect(Machine.UpstreamFailure.perTryTimeout.flag.rawValue == "UT")
    }

    @Test("a per-try timeout after the answer began changes nothing")
    func perTryTimeoutAfterResponse() {
        var machine = Self.sent(retries: 1)
        _ = machine.answer(200)
        #expect(machine.tryTimedOut(retries: HTTPRetry(attempts: 1, retryOn: [.gatewayError])) == .none)
    }

    @Test("the route timeout answers 504 UT before the answer, and cuts the connection after it began")
    func routeTimeout() {
        var waiting = Self.routed(hasBody: false)
        _ = waiting.requestEnded()
        #expect(waiting.timedOut() == .fail(.timeout(whileConnected: false), keepAlive: true))
        #expect(Machine.UpstreamFailure.timeout(whileConnected: false).outlierOutcome == nil, "an endpoint never reached is not blamed")

        var answering = Self.sent()
        _ = answering.answer(200)
        #expect(answering.timedOut() == .cutResponse(code: 200, flag: .upstreamRequestTimeout))
        #expect(answering.closing)
    }

    @Test("the client closing mid-answer is counted DC with the status it was getting")
    func clientClosesMidResponse() {
        var machine = Self.sent()
        _ = machine.answer(200)
        #expect(machine.clientClosed() == .abandon(code: 200, flag: .downstreamConnectionTermination))
        #expect(machine.closing)
        #expect(machine.upstreamEnded() == .none, "a late upstream event after the close does nothing")
    }

    @Test("the client closing before any answer is counted DC with status 0; between requests, nothing is counted")
    func clientClosesBeforeResponse() {
        var machine = Self.sent()
        #expect(machine.clientClosed() == .abandon(code: 0, flag: .downstreamConnectionTermination))
        var idle = Self.machine()
        #expect(idle.clientClosed() == .none)
    }

    @Test("the upstream closing mid-answer cuts the client connection, counted UC")
    func upstreamClosesEarly() {
        var machine = Self.sent(retries: 2)
        _ = machine.answer(200)
        #expect(
            machine.upstreamClosed(malformed: false, reused: false, retries: Self.connectRetries)
                == .cutResponse(code: 200, flag: .upstreamConnectionTermination))
        #expect(machine.closing)
    }

    @Test("the upstream closing before the answer: a reused connection is resent on a fresh one, a fresh one fails 503 UC")
    func upstreamClosesBeforeHead() {
        var reused = Self.sent()
        for resend in 1...2 {
            #expect(reused.upstreamClosed(malformed: false, reused: true, retries: nil) == .reconnect(replayingBody: false), "resend \(resend)")
            #expect(reused.upstreamConnected() == .sendRequest)
        }
        #expect(reused.upstreamClosed(malformed: false, reused: true, retries: nil) == .fail(.reset, keepAlive: true), "resent at most twice")

        var fresh = Self.sent()
        #expect(fresh.upstreamClosed(malformed: false, reused: false, retries: nil) == .fail(.reset, keepAlive: true))
        #expect(Machine.UpstreamFailure.reset.flag.rawValue == "UC")
    }

    @Test(
        "a stream refused by a server ending a connection that served others is resent eight times before the retries; one refused outright twice"
    )
    func refusedStreamResends() {
        var ended = Self.sent(retries: 2)
        for resend in 1...Machine.resendsAfterConnectionEnded {
            #expect(ended.upstreamClosed(malformed: false, reused: false, retries: nil, refused: .connectionEnded) == .reconnect(replayingBody: false), "resend \(resend)")
            #expect(ended.upstreamConnected() == .sendRequest)
        }
        let then = ended.upstreamClosed(malformed: false, reused: false, retries: Self.connectRetries, refused: .connectionEnded)
        guard case .retry(.refusedStream, code: 503, flag: .upstreamConnectionTermination, _) = then else {
            Issue.record("then an attempt under the route's retries, not \(then)")
            return
        }

        var refused = Self.sent()
        for _ in 1...2 {
            #expect(refused.upstreamClosed(malformed: false, reused: false, retries: nil, refused: .refused) == .reconnect(replayingBody: false))
            #expect(refused.upstreamConnected() == .sendRequest)
        }
        #expect(refused.upstreamClosed(malformed: false, reused: false, retries: nil, refused: .refused) == .fail(.reset, keepAlive: true))
    }

    @Test(
        "a stream never opened because its connection went away first is asked for again, body bytes held for it, not counted as a connect failure"
    )
    func streamNeverOpened() {
        var machine = Self.routed(hasBody: true)
        #expect(machine.requestBody(bytes: 5) == .forwardBody(toUpstream: false, replay: .none))
        #expect(machine.upstreamFailed(overflow: false, retries: nil, refused: .connectionEnded) == .reconnect(replayingBody: false))
        #expect(machine.requestBody(bytes: 5) == .forwardBody(toUpstream: false, replay: .none), "still held: no connection yet")
        #expect(machine.upstreamConnected() == .sendRequest)

        var connectFailed = Self.routed(hasBody: false)
        #expect(connectFailed.upstreamFailed(overflow: false, retries: nil) == .fail(.connectFailure, keepAlive: true))
    }

    @Test("a refused stream whose body went out is resent with the copy kept for retries; without a copy, it is not resent")
    func refusedStreamReplaysBody() {
        var kept = Self.routed(hasBody: true, retries: 2)
        _ = kept.upstreamConnected()
        #expect(kept.requestBody(bytes: 5) == .forwardBody(toUpstream: true, replay: .keep))
        #expect(kept.upstreamClosed(malformed: false, reused: false, retries: Self.connectRetries, refused: .connectionEnded) == .reconnect(replayingBody: true))

        var notKept = Self.routed(hasBody: true)
        _ = notKept.upstreamConnected()
        #expect(notKept.requestBody(bytes: 5) == .forwardBody(toUpstream: true, replay: .none))
        #expect(notKept.upstreamClosed(malformed: false, reused: false, retries: nil, refused: .connectionEnded) == .fail(.reset, keepAlive: false))
    }

    @Test("a reused connection is not resent once body bytes went out on it")
    func noResendAfterBody() {
        var machine = Self.routed(hasBody: true)
        _ = machine.upstreamConnected()
        #expect(machine.requestBody(bytes: 5) == .forwardBody(toUpstream: true, replay: .none))
        #expect(machine.upstreamClosed(malformed: false, reused: true, retries: nil) == .fail(.reset, keepAlive: false))
    }

    @Test("a malformed answer is a bad gateway: 502 UPE")
    func malformedAnswer() {
        var machine = Self.sent()
        #expect(machine.upstreamClosed(malformed: true, reused: false, retries: nil) == .fail(.protocolError, keepAlive: true))
        #expect(Machine.UpstreamFailure.protocolError.status == 502)
        #expect(Machine.UpstreamFailure.protocolError.flag.rawValue == "UPE")
    }

    @Test("a retriable status is dropped and retried; the client sees only the last attempt's answer")
    func retriableStatus() {
        let policy = HTTPRetry(attempts: 1)
        var machine = Self.sent(retries: 1)
        guard
            case .retry(.status(503), code: 503, flag: .noFlag, _) = machine.responseHead(
                status: 503, informational: false, chunked: false, endsWithClose: false, retries: policy)
        else {
            Issue.record("503 is retried under Istio's default")
            return
        }
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.upstreamConnected() == .sendRequest)
        #expect(
            machine.answer(503, retries: policy)
                == .startResponse(keepAlive: true, decodeChunks: false))
    }

    @Test("a fault delay holds the request, then it connects; the finished request is flagged DI")
    func injectedDelay() {
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        #expect(machine.routedUpstream(retries: 0, delayed: true) == .waitInjectedDelay)
        _ = machine.requestEnded()
        #expect(machine.delayElapsed() == .connect)
        _ = machine.upstreamConnected()
        _ = machine.answer(200)
        #expect(machine.upstreamEnded() == .finishResponse(code: 200, flag: .delayInjected, keepAlive: true, reuseUpstream: true))
    }

    @Test("a fault abort drawn with a delay answers once the delay is over; a bodiless request keeps its connection, one with a body not yet read closes it")
    func abortAfterDelay() {
        let abort = Machine.UpstreamFailure.faultAbort(HTTPFaultInjection.Abort(httpStatus: 418, percentage: Percent(100)))
        var machine = Self.machine()
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        #expect(machine.routedUpstream(retries: 2, delayed: true) == .waitInjectedDelay)
        _ = machine.requestEnded()
        #expect(machine.abortedAfterDelay(abort) == .fail(abort, keepAlive: true))
        #expect(machine.mayStartRequest)
        #expect(abort.status == 418 && abort.flag == .faultInjected && abort.outlierOutcome == nil)

        var withBody = Self.routed(hasBody: true, delayed: true)
        #expect(withBody.abortedAfterDelay(abort) == .fail(abort, keepAlive: false))
        #expect(withBody.closing)
    }

    @Test("request body bytes are kept for a retry until they outgrow the limit, then the request is no longer retried")
    func replayBudget() {
        var machine = Self.routed(hasBody: true, retries: 2)
        #expect(machine.requestBody(bytes: Machine.maxReplayBytes) == .forwardBody(toUpstream: false, replay: .keep))
        #expect(machine.requestBody(bytes: 1) == .forwardBody(toUpstream: false, replay: .drop))
        #expect(machine.requestBody(bytes: 1) == .forwardBody(toUpstream: false, replay: .none))
        #expect(machine.upstreamFailed(overflow: false, retries: Self.connectRetries) == .fail(.connectFailure, keepAlive: false))
    }

    @Test("body bytes wait for the connection, then go straight upstream; reads pause while the upstream cannot take more")
    func bodyBackpressure() {
        var machine = Self.routed(hasBody: true)
        #expect(machine.requestBody(bytes: 10) == .forwardBody(toUpstream: false, replay: .none))
        #expect(!machine.holdsReads(pipelinedBytesWaiting: false, upstreamWritable: false), "no connection yet: nothing to wait for")
        _ = machine.upstreamConnected()
        #expect(machine.requestBody(bytes: 10) == .forwardBody(toUpstream: true, replay: .none))
        #expect(machine.holdsReads(pipelinedBytesWaiting: false, upstreamWritable: false))
        #expect(!machine.holdsReads(pipelinedBytesWaiting: false, upstreamWritable: true))
        #expect(!machine.holdsReads(pipelinedBytesWaiting: true, upstreamWritable: true), "bytes behind a body being read are its own")
    }

    @Test(
        "Connection: close, an answer that ends by closing, or chunks decoded for HTTP/1.0 end the client connection",
        arguments: [
            (false, HTTPVersion.http1_1, false, false),
            (true, .http1_1, false, true),
            (true, .http1_0, true, false),
        ])
    func connectionClose(clientKeepsAlive: Bool, version: HTTPVersion, chunked: Bool, endsWithClose: Bool) {
        var machine = Self.sent(keepAlive: clientKeepsAlive, version: version)
        let decode = version == .http1_0 && chunked
        #expect(
            machine.responseHead(status: 200, informational: false, chunked: chunked, endsWithClose: endsWithClose, retries: nil)
                == .startResponse(keepAlive: false, decodeChunks: decode))
        #expect(machine.upstreamEnded() == .finishResponse(code: 200, flag: .noFlag, keepAlive: false, reuseUpstream: true))
        #expect(machine.closing)
        #expect(!machine.mayStartRequest)
    }

    @Test("an answer that comes before the whole request keeps neither the client nor the upstream connection")
    func earlyAnswer() {
        var machine = Self.routed(hasBody: true)
        _ = machine.upstreamConnected()
        _ = machine.answer(413)
        #expect(machine.upstreamEnded() == .finishResponse(code: 413, flag: .noFlag, keepAlive: false, reuseUpstream: false))
    }

    @Test("100 Continue goes to an HTTP/1.1 client and is dropped for an HTTP/1.0 one")
    func informational() {
        var modern = Self.sent()
        #expect(modern.responseHead(status: 100, informational: true, chunked: false, endsWithClose: false, retries: nil) == .passInformational)
        #expect(!modern.responseStarted)
        var old = Self.sent(version: .http1_0)
        #expect(old.responseHead(status: 100, informational: true, chunked: false, endsWithClose: false, retries: nil) == .none)
    }

    @Test("a malformed body is rejected 400 before the answer, and cuts the connection after it began")
    func malformedBody() {
        var before = Self.routed(hasBody: true)
        #expect(before.malformedBody() == .reject(abandonExchange: true))
        #expect(before.closing)

        var after = Self.routed(hasBody: true)
        _ = after.upstreamConnected()
        _ = after.answer(200)
        #expect(after.malformedBody() == .close(abandonExchange: true))
    }

    @Test("a malformed head is rejected and ends the connection")
    func malformedHead() {
        var machine = Self.machine()
        #expect(machine.malformedHead() == .reject(abandonExchange: false))
        #expect(machine.closing)
        #expect(!machine.mayStartRequest)
    }

    @Test("every response flag prints as Envoy spells it")
    func flagStrings() {
        #expect(ResponseFlag.allCases.map(\.description) == ["-", "NR", "UH", "UF", "UC", "UT", "UO", "UPE", "DC", "DR", "DPE", "FI", "DI"])
    }
}

extension ProxyStateMachine {
    /// The upstream's final answer with `status`, plainly framed.
    mutating func answer(_ status: Int, retries: HTTPRetry? = nil) -> Action {
        responseHead(status: status, informational: false, chunked: false, endsWithClose: false, retries: retries)
    }
}
