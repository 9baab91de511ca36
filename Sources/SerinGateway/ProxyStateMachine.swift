import NIOCore
import NIOHTTP1
import SerinCore

/// The decisions of one client connection of the proxy — when a request may start, whether it is answered
/// locally, retried or failed, whether the connection stays open, which response flag it ends with — kept
/// apart from its IO so they can be tested with plain event sequences.
///
/// Shaped like AsyncHTTPClient's `HTTPConnectionPool.StateMachine` and Hummingbird's
/// `HTTPConnectionStateHandler.StateMachine`: each `mutating` method is named after something that happened
/// (a request head read, a connection made or refused, an answer's head, a timer, a close) and returns the one
/// `Action` the caller must run. It holds plain values only — no buffers, connections or closures — so it
/// allocates nothing per request; `ProxyHandler` owns the IO and runs the actions.
struct ProxyStateMachine {
    enum State: Equatable {
        /// Between requests: the next bytes start one.
        case idle
        /// A request head was read and is being routed (`routed...` follows at once).
        case routing(Request)
        /// A request is on its way upstream, or its answer on its way back.
        case proxying(Exchange)
        /// The gateway answered itself (404, 503...); the rest of the request body is discarded.
        case respondingLocally
        /// The upstream switched protocols (`101`): bytes pass both ways unread until either side closes.
        case tunnelling(Tunnel)
    }

    /// Which ends of an upgraded connection have finished sending (a half-close each).
    struct Tunnel: Equatable {
        var clientFinished = false
        var upstreamFinished = false
    }

    /// What the client asked for, as far as the machine's decisions go.
    struct Request: Equatable {
        /// Whether the client keeps the connection after this request (HTTP/1.1 without `Connection: close`,
        /// or HTTP/1.0 with `keep-alive`).
        var keepAlive: Bool
        var version: HTTPVersion
        var hasBody: Bool
        /// The client asked to switch protocols (`Connection: upgrade` and an `Upgrade` the gateway passes on).
        var upgrade = false
    }

    /// How far one proxied request got.
    struct Exchange: Equatable {
        var request: Request
        var retriesLeft: Int
        /// Retries taken so far: the backoff doubles with each.
        var retriesTaken = 0
        /// Connections asked for, retries and resends on a fresh connection included.
        var connects = 0
        /// Resends of a stream refused by a server ending its connection (`StreamRefusal.connectionEnded`).
        var resendsAfterConnectionEnded = 0
        /// A connection carries the current attempt.
        var upstreamAttached = false
        var requestEnded = false
        /// Request body bytes received from the client so far (framing included).
        var bodyBytes = 0
        /// Whether request body bytes went upstream in this attempt: after that a resend could duplicate them.
        var bodyForwarded = false
        /// The body is still kept for a retry: it has not outgrown `maxReplayBytes`, and the route retries.
        var replayable: Bool
        var responseStarted = false
        var responseCode = 0
        /// The answer ends by closing, or its body is decoded for an HTTP/1.0 client: the client connection ends with it.
        var closesClient = false
        /// A fault delay held the request: the finished request carries `DI` instead of `-`.
        var delayInjected: Bool

        /// Whether the client connection stays open after this exchange.
        var keepsClientAlive: Bool { request.keepAlive && !closesClient }

        /// `flag`, or `DI` in place of `-` when a delay was injected (Envoy keeps it on the finished request's series).
        func recorded(_ flag: ResponseFlag) -> ResponseFlag {
            flag == .noFlag && delayInjected ? .delayInjected : flag
        }
    }

    /// An answer the gateway gives itself, decided while routing.
    enum LocalAnswer: Equatable {
        /// No route matched: 404 `NR`.
        case noRoute
        /// The host is another TLS server's than the one the connection's handshake chose: 421 `NR`.
        case misdirected
        /// The route's `directResponse`.
        case direct(status: Int)
        /// The route's `redirect`.
        case redirect(status: Int)
        /// The route or its cluster has nowhere to send the request: 503 `UH`.
        case noHealthyUpstream
        /// A fault abort fired: its status, `FI`.
        case faultAbort(status: Int)

        var status: Int {
            switch self {
            case .noRoute: 404
            case .misdirected: 421
            case .direct(let status), .redirect(let status), .faultAbort(let status): status
            case .noHealthyUpstream: 503
            }
        }

        var flag: ResponseFlag {
            switch self {
            case .noRoute, .misdirected: .noRoute
            case .direct, .redirect: .noFlag
            case .noHealthyUpstream: .noHealthyUpstream
            case .faultAbort: .faultInjected
            }
        }
    }

    /// Why a request got no answer from upstream, and how the gateway answers it instead.
    enum UpstreamFailure: Equatable {
        /// The cluster's circuit breaker turned it away: never retried, no mark against the endpoint.
        case overflow
        case connectFailure
        /// The connection closed before the answer's head.
        case reset
        /// The upstream answered, but not in HTTP.
        case protocolError
        /// The route's `timeout`, while a connection carried the request or before one was made.
        case timeout(whileConnected: Bool)
        /// `retries.perTryTimeout`, with no retry left.
        case perTryTimeout
        /// A fault's abort, drawn for a request its delay held: answered once the delay is over.
        case faultAbort(HTTPFaultInjection.Abort)
        /// The client's body could not be sent as it was written (a gRPC-Web text body that is not base64): the
        /// client's fault, never retried, nothing counted against the endpoint.
        case badRequest

        var status: Int {
            switch self {
            case .badRequest: 400
            case .overflow, .connectFailure, .reset: 503
            case .protocolError: 502
            case .timeout, .perTryTimeout: 504
            case .faultAbort(let abort): abort.httpStatus
            }
        }

        /// What outlier detection counts against the endpoint; nothing when the endpoint was never reached.
        var outlierOutcome: OutlierDetector.Outcome? {
            switch self {
            case .overflow, .timeout(whileConnected: false), .faultAbort, .badRequest: nil
            case .connectFailure: .connectFailure
            case .reset: .reset
            case .protocolError: .response(status: 502)
            case .timeout(whileConnected: true), .perTryTimeout: .timeout
            }
        }

        var flag: ResponseFlag {
            switch self {
            case .overflow: .upstreamOverflow
            case .connectFailure: .upstreamConnectionFailure
            case .reset: .upstreamConnectionTermination
            case .protocolError: .upstreamProtocolError
            case .timeout, .perTryTimeout: .upstreamRequestTimeout
            case .faultAbort: .faultInjected
            case .badRequest: .downstreamProtocolError
            }
        }
    }

    /// Why an upstream never processed an HTTP/2 stream.
    enum StreamRefusal: Equatable, Sendable {
        /// RST_STREAM REFUSED_STREAM, or a GOAWAY naming no stream the connection carried: the server takes no more.
        case refused
        /// A GOAWAY after the server processed earlier streams on the connection (nginx's `keepalive_requests`, a gRPC
        /// server's `max_connection_age`): it goes on taking streams, on a new connection.
        case connectionEnded
    }

    /// How often a stream refused by a server ending its connection is sent again on a new one before the route's
    /// retries take over. Each such end means the server served earlier streams, so resending makes progress; a
    /// stream still behind others (more streams at once than the server serves per connection) needs one resend
    /// for each connection served before it.
    static let resendsAfterConnectionEnded = 8

    /// What ended an attempt, for Istio's `retryOn`.
    enum RetryTrigger: Equatable {
        case connectFailure
        case reset
        /// The upstream never processed the HTTP/2 stream (refused, or above its GOAWAY's last stream).
        case refusedStream
        case status(Int)
        /// A gRPC answer without a body (trailers-only) and a status other than OK.
        case grpcStatus(Int)
        case perTryTimeout

        /// What outlier detection counts against the endpoint of the failed attempt; nothing for a stream a server
        /// going away in good order did not take.
        var outlierOutcome: OutlierDetector.Outcome? {
            switch self {
            case .connectFailure: .connectFailure
            case .reset: .reset
            case .refusedStream: nil
            case .status(let status): .response(status: status)
            case .grpcStatus: .response(status: 200)
            case .perTryTimeout: .timeout
            }
        }

        func isCovered(by retries: HTTPRetry) -> Bool {
            switch self {
            case .connectFailure:
                return retries.retryOn.contains(.connectFailure) || retries.retryOn.contains(.refusedStream)
                    || retries.retryOn.contains(.serverError)
            case .reset:
                return retries.retryOn.contains(.reset) || retries.retryOn.contains(.serverError)
            case .refusedStream:
                return retries.retryOn.contains(.refusedStream) || retries.retryOn.contains(.reset)
                    || retries.retryOn.contains(.serverError)
            case .status(let status):
                return retries.retries(status: status)
            case .grpcStatus(let status):
                return retries.retries(grpcStatus: status)
            case .perTryTimeout:
                return retries.retryOn.contains(.serverError) || retries.retryOn.contains(.gatewayError)
                    || retries.retryOn.contains(.reset)
            }
        }
    }

    /// What happens to the body bytes just received regarding a retry.
    enum Replay: Equatable {
        /// Nothing is kept: the route does not retry, or the body outgrew the limit earlier.
        case none
        /// A copy is kept for a retry.
        case keep
        /// The body outgrew `maxReplayBytes`: what was kept is dropped and the request can no longer be retried.
        case drop
    }

    enum Action: Equatable {
        case none
        /// Route the request just read, then report with `routed(_:)` or `routedUpstream(retries:delayed:)`.
        case route
        /// Count and write the gateway's own answer; the connection stays open after it when `keepAlive`.
        case answerLocally(status: Int, flag: ResponseFlag, keepAlive: Bool)
        /// Wait the route's fault delay, then report `delayElapsed()`.
        case waitInjectedDelay
        /// Ask the pool for a connection to the current endpoint.
        case connect
        /// Send the request head, and the body received so far, on the connection just made.
        case sendRequest
        /// Send body bytes upstream (or hold them until a connection is made), and keep or drop the copy for a retry.
        case forwardBody(toUpstream: Bool, replay: Replay)
        /// Drop body bytes: the gateway answered the request itself.
        case discardBody
        /// The request body is complete: the mirror is told, the upstream flushed.
        case endRequest
        /// Count the failed attempt as `code` and `flag`, drop its connection, move to the next endpoint, and
        /// report `backoffElapsed()` after `backoff`.
        case retry(RetryTrigger, code: Int, flag: ResponseFlag, backoff: Duration)
        /// Send again at once on a new connection: the pooled one had been closed by the server while idle, or the
        /// server never processed the stream. `replayingBody`: the body bytes that went out go again, from the copy kept.
        case reconnect(replayingBody: Bool)
        /// No answer started: drop the upstream, count and write the gateway's error answer.
        case fail(UpstreamFailure, keepAlive: Bool)
        /// Pass an informational answer (`100 Continue`) to the client; the final one follows.
        case passInformational
        /// Write the answer's head to the client, its body decoded from chunks when `decodeChunks`.
        case startResponse(keepAlive: Bool, decodeChunks: Bool)
        /// The answer's last bytes came: count them, give the connection back (`reuseUpstream`) or close it,
        /// and keep the client connection open when `keepAlive`.
        case finishResponse(code: Int, flag: ResponseFlag, keepAlive: Bool, reuseUpstream: Bool)
        /// The answer cannot be completed: count it, close the upstream and the client connection.
        case cutResponse(code: Int, flag: ResponseFlag)
        /// The client left mid-exchange: close the upstream, count the request.
        case abandon(code: Int, flag: ResponseFlag)
        /// The exchange is over: start a request that waited its turn, resume reads.
        case becomeIdle
        /// The request is malformed: count `DPE`, answer the error and close; first drop the exchange in flight
        /// without counting it when `abandonExchange`.
        case reject(abandonExchange: Bool)
        /// Close the client connection without a word (an answer already started), dropping the exchange when
        /// `abandonExchange`.
        case close(abandonExchange: Bool)
        /// The upstream switched protocols: count the request as `101`, stop its timers, relay the answer's head
        /// and from then on pass bytes both ways.
        case startTunnel(flag: ResponseFlag)
        /// One side of the tunnel finished sending: finish sending to the other side too (a half-close).
        case finishSending(toUpstream: Bool)
        /// The tunnel is over: close both connections; it was counted when it started.
        case endTunnel
    }

    /// The most request body kept for retries, as Envoy's per-request buffer limit.
    static let maxReplayBytes = 64 * 1024

    private(set) var state = State.idle
    /// A response that ends the connection is under way, or the client left: nothing more is read.
    private(set) var closing = false
    /// A request body is being read: bytes from the client belong to it, not to the next request.
    private(set) var readingBody = false
    /// Draws the retry backoff's jitter.
    private var random: FastRandom

    init(random: FastRandom = FastRandom()) {
        self.random = random
    }

    var isIdle: Bool { state == .idle }

    /// Whether the connection is an upgraded tunnel: bytes pass unread.
    var isTunnelling: Bool {
        if case .tunnelling = state { return true }
        return false
    }

    /// Whether the next request head may be read now: pipelined requests wait until the one before is answered,
    /// so answers go out in request order.
    var mayStartRequest: Bool { state == .idle && !closing }

    /// The current exchange, while one is under way.
    var exchange: Exchange? {
        if case .proxying(let exchange) = state { return exchange }
        return nil
    }

    /// Whether the current exchange's answer has begun (its head is on its way to the client); a tunnel's has.
    var responseStarted: Bool { isTunnelling || (exchange?.responseStarted ?? false) }

    /// Whether reads from the client wait: while a pipelined request waits its turn, or while the upstream
    /// cannot take more of the body (backpressure).
    func holdsReads(pipelinedBytesWaiting: Bool, upstreamWritable: Bool) -> Bool {
        let pipelined = pipelinedBytesWaiting && !readingBody
        switch state {
        case .idle, .routing:
            return false
        case .respondingLocally:
            return pipelined
        case .proxying(let exchange):
            return pipelined || (exchange.upstreamAttached && !upstreamWritable)
        case .tunnelling:
            return !upstreamWritable
        }
    }

    // MARK: Client events

    /// A request head was read (only asked for when `mayStartRequest`); `upgrade` when it asks to switch protocols.
    mutating func requestHead(keepAlive: Bool, version: HTTPVersion, hasBody: Bool, upgrade: Bool = false) -> Action {
        guard mayStartRequest else { return .none }
        readingBody = hasBody
        state = .routing(Request(keepAlive: keepAlive, version: version, hasBody: hasBody, upgrade: upgrade))
        return .route
    }

    /// Routing decided the gateway answers the request itself. A request with a body closes the connection
    /// afterwards: closing is simpler than draining a body nobody reads.
    mutating func routed(_ answer: LocalAnswer) -> Action {
        guard case .routing(let request) = state else { return .none }
        state = .respondingLocally
        let keepAlive = request.keepAlive && !request.hasBody
        if !keepAlive { closing = true }
        return .answerLocally(status: answer.status, flag: answer.flag, keepAlive: keepAlive)
    }

    /// Routing chose an upstream; the route allows `retries`, and a fault delay holds the request when `delayed`.
    mutating func routedUpstream(retries: Int, delayed: Bool) -> Action {
        guard case .routing(let request) = state else { return .none }
        var exchange = Exchange(request: request, retriesLeft: retries, replayable: retries > 0, delayInjected: delayed)
        if delayed {
            state = .proxying(exchange)
            return .waitInjectedDelay
        }
        exchange.connects += 1
        state = .proxying(exchange)
        return .connect
    }

    /// Request body bytes arrived (`bytes`, framing included).
    mutating func requestBody(bytes: Int) -> Action {
        guard case .proxying(var exchange) = state else { return .discardBody }
        exchange.bodyBytes += bytes
        var replay = Replay.none
        if exchange.replayable {
            if exchange.bodyBytes > Self.maxReplayBytes {
                exchange.replayable = false
                replay = .drop
            } else {
                replay = .keep
            }
        }
        if exchange.upstreamAttached { exchange.bodyForwarded = true }
        state = .proxying(exchange)
        return .forwardBody(toUpstream: exchange.upstreamAttached, replay: replay)
    }

    /// The request has been read to its end.
    mutating func requestEnded() -> Action {
        readingBody = false
        switch state {
        case .proxying(var exchange):
            exchange.requestEnded = true
            state = .proxying(exchange)
            return .endRequest
        case .respondingLocally:
            state = .idle
            return .becomeIdle
        case .idle, .routing, .tunnelling:
            return .none
        }
    }

    /// A request head was malformed or over the limits.
    mutating func malformedHead() -> Action {
        state = .respondingLocally
        readingBody = false
        closing = true
        return .reject(abandonExchange: false)
    }

    /// A request body broke its framing: the upstream has part of a request it must never complete.
    mutating func malformedBody() -> Action {
        readingBody = false
        closing = true
        switch state {
        case .proxying(let exchange) where exchange.responseStarted:
            state = .idle
            return .close(abandonExchange: true)
        case .proxying:
            state = .respondingLocally
            return .reject(abandonExchange: true)
        case .respondingLocally:
            // The local answer is written already.
            return .close(abandonExchange: false)
        case .idle, .routing, .tunnelling:
            state = .respondingLocally
            return .reject(abandonExchange: false)
        }
    }

    /// The client connection closed, or (`reset`) the client reset the HTTP/2 stream the request came on.
    mutating func clientClosed(reset: Bool = false) -> Action {
        defer {
            state = .idle
            closing = true
            readingBody = false
        }
        if isTunnelling { return .endTunnel }
        guard case .proxying(let exchange) = state else { return .none }
        return .abandon(code: exchange.responseStarted ? exchange.responseCode : 0, flag: reset ? .downstreamRemoteReset : .downstreamConnectionTermination)
    }

    /// The connection is closing for a reason of the caller's own (a drain, an error): nothing more is read.
    mutating func closeStarted() {
        closing = true
    }

    // MARK: Upstream events

    /// The fault delay passed.
    mutating func delayElapsed() -> Action { connectAgain() }

    /// The fault delay passed, and the abort drawn with it answers the request instead of the upstream.
    mutating func abortedAfterDelay(_ abort: UpstreamFailure) -> Action {
        guard case .proxying(let exchange) = state, !exchange.upstreamAttached else { return .none }
        return fail(exchange, abort)
    }

    /// A retry's backoff passed.
    mutating func backoffElapsed() -> Action { connectAgain() }

    private mutating func connectAgain() -> Action {
        guard case .proxying(var exchange) = state, !exchange.upstreamAttached else { return .none }
        exchange.connects += 1
        state = .proxying(exchange)
        return .connect
    }

    /// The pool handed over a connection for the current attempt.
    mutating func upstreamConnected() -> Action {
        guard case .proxying(var exchange) = state else { return .none }
        exchange.upstreamAttached = true
        // The body received so far goes out behind the head.
        exchange.bodyForwarded = exchange.bodyBytes > 0
        state = .proxying(exchange)
        return .sendRequest
    }

    /// No connection could be had: the cluster's budget is spent (`overflow`), or the connect failed.
    mutating func upstreamFailed(overflow: Bool, retries: HTTPRetry?, refused: StreamRefusal? = nil) -> Action {
        guard case .proxying(var exchange) = state else { return .none }
        if overflow { return fail(exchange, .overflow) }
        if let refused { return resendOrRetry(&exchange, refused: refused, reused: false, retries: retries) }
        if let retry = retry(&exchange, after: .connectFailure, code: 503, flag: .upstreamConnectionFailure, retries: retries) {
            return retry
        }
        return fail(exchange, .connectFailure)
    }

    /// The upstream's answer began; a retriable status is dropped and counted, and the client sees only the
    /// last attempt's answer.
    mutating func responseHead(
        status: Int, informational: Bool, chunked: Bool, endsWithClose: Bool, retries: HTTPRetry?, trailersOnlyGRPCStatus: Int? = nil
    ) -> Action {
        guard case .proxying(var exchange) = state else { return .none }
        if status == 101 {
            // Switching protocols answers only a request that asked to; to any other it is not HTTP.
            guard exchange.request.upgrade else { return fail(exchange, .protocolError) }
            closing = true
            readingBody = false
            state = .tunnelling(Tunnel())
            return .startTunnel(flag: exchange.recorded(.noFlag))
        }
        if informational { return exchange.request.version == .http1_0 ? .none : .passInformational }
        let trigger = trailersOnlyGRPCStatus.map { $0 == 0 ? RetryTrigger.status(status) : .grpcStatus($0) } ?? .status(status)
        if let retry = retry(&exchange, after: trigger, code: status, flag: .noFlag, retries: retries) { return retry }
        exchange.responseStarted = true
        exchange.responseCode = status
        // An HTTP/1.0 client cannot read chunks: it gets the data, and the end of the body is the close.
        let decode = exchange.request.version == .http1_0 && chunked
        // An answer that begins before the request's body has all arrived ends the connection (what is left of the
        // body is not read through to find the next request), and its head says so, as RFC 9112 §9.6 asks.
        if decode || endsWithClose || exchange.request.hasBody && !exchange.requestEnded { exchange.closesClient = true }
        state = .proxying(exchange)
        return .startResponse(keepAlive: exchange.keepsClientAlive, decodeChunks: decode)
    }

    /// The answer's last bytes came.
    mutating func upstreamEnded() -> Action {
        guard case .proxying(let exchange) = state else { return .none }
        state = .idle
        let keepAlive = exchange.keepsClientAlive && exchange.requestEnded
        if !keepAlive { closing = true }
        // An upstream that answered before the whole request arrived has unknowable framing: not reused.
        return .finishResponse(
            code: exchange.responseCode, flag: exchange.recorded(.noFlag), keepAlive: keepAlive,
            reuseUpstream: exchange.requestEnded
        )
    }

    /// The upstream connection closed before the answer ended (or a tunnel's upstream closed); `malformed` when
    /// what it sent was not HTTP, `reused` when it had served a request before this one, `refused` when it was an
    /// HTTP/2 stream the server never processed.
    mutating func upstreamClosed(
        malformed: Bool, reused: Bool, retries: HTTPRetry?, handshakeFailed: Bool = false, refused: StreamRefusal? = nil,
        badRequest: Bool = false
    ) -> Action {
        if isTunnelling {
            state = .idle
            return .endTunnel
        }
        guard case .proxying(var exchange) = state else { return .none }
        exchange.upstreamAttached = false
        if exchange.responseStarted {
            // Part of the answer is out already: the only honest signal left is closing the client connection.
            state = .idle
            closing = true
            return .cutResponse(code: exchange.responseCode, flag: .upstreamConnectionTermination)
        }
        if badRequest { return fail(exchange, .badRequest) }
        if malformed {
            // A bad gateway, not an unavailable one.
            if let retry = retry(&exchange, after: .status(502), code: 502, flag: .upstreamProtocolError, retries: retries) {
                return retry
            }
            return fail(exchange, .protocolError)
        }
        if handshakeFailed {
            // TLS never came up, so nothing reached the upstream's application: a failure to connect, as Envoy
            // counts it (`UF`), retried as one.
            if let retry = retry(&exchange, after: .connectFailure, code: 503, flag: .upstreamConnectionFailure, retries: retries) {
                return retry
            }
            return fail(exchange, .connectFailure)
        }
        return resendOrRetry(&exchange, refused: refused, reused: reused, retries: retries)
    }

    /// A stream the server never processed (refused, above its GOAWAY's last stream, or never opened because the server
    /// went away first), or a pooled connection the server closed while idle, fails before any answer byte: sent again
    /// on a new connection, not as an attempt, as long as no body bytes went out (as Envoy's pool sends the streams a
    /// GOAWAY left); else under the retries. A server ending connections that served others is given more resends
    /// than one refusing streams outright.
    private mutating func resendOrRetry(_ exchange: inout Exchange, refused: StreamRefusal?, reused: Bool, retries: HTTPRetry?) -> Action {
        // A server that never processed the stream saw none of its body: what went out goes again, if a copy was kept.
        let replayingBody = exchange.bodyForwarded && refused != nil && exchange.replayable
        let sendable = !exchange.bodyForwarded || replayingBody
        if refused == .connectionEnded, sendable, exchange.resendsAfterConnectionEnded < Self.resendsAfterConnectionEnded {
            exchange.resendsAfterConnectionEnded += 1
            exchange.connects += 1
            state = .proxying(exchange)
            return .reconnect(replayingBody: replayingBody)
        }
        if refused != nil || reused, sendable, exchange.connects < 3 {
            exchange.connects += 1
            state = .proxying(exchange)
            return .reconnect(replayingBody: replayingBody)
        }
        if let retry = retry(
            &exchange, after: refused != nil ? .refusedStream : .reset, code: 503, flag: .upstreamConnectionTermination,
            retries: retries
        ) {
            return retry
        }
        return fail(exchange, .reset)
    }

    /// The route's `timeout` passed: 504 if no answer started, else the client connection is cut.
    mutating func timedOut() -> Action {
        guard case .proxying(let exchange) = state else { return .none }
        guard exchange.responseStarted else { return fail(exchange, .timeout(whileConnected: exchange.upstreamAttached)) }
        state = .idle
        closing = true
        return .cutResponse(code: exchange.responseCode, flag: .upstreamRequestTimeout)
    }

    /// `retries.perTryTimeout` passed before the answer's head: retried if the policy allows, else 504.
    mutating func tryTimedOut(retries: HTTPRetry?) -> Action {
        guard case .proxying(var exchange) = state, !exchange.responseStarted else { return .none }
        if let retry = retry(&exchange, after: .perTryTimeout, code: 504, flag: .upstreamRequestTimeout, retries: retries) {
            return retry
        }
        return fail(exchange, .perTryTimeout)
    }

    // MARK: Tunnel events

    /// One side of the tunnel finished sending (`fromClient`, else the upstream): the other side is told the same;
    /// once both have, the tunnel is over.
    mutating func tunnelSideFinished(fromClient: Bool) -> Action {
        guard case .tunnelling(var tunnel) = state else { return .none }
        if fromClient { tunnel.clientFinished = true } else { tunnel.upstreamFinished = true }
        guard !(tunnel.clientFinished && tunnel.upstreamFinished) else {
            state = .idle
            return .endTunnel
        }
        state = .tunnelling(tunnel)
        return .finishSending(toUpstream: fromClient)
    }

    // MARK: Decisions

    /// Another attempt, when the route's policy covers `trigger`, a retry is left and the body can be sent
    /// again; nil otherwise (the state is then left for the caller to decide).
    private mutating func retry(
        _ exchange: inout Exchange, after trigger: RetryTrigger, code: Int, flag: ResponseFlag, retries: HTTPRetry?
    ) -> Action? {
        guard exchange.retriesLeft > 0, !exchange.responseStarted, exchange.replayable, let retries,
            trigger.isCovered(by: retries)
        else { return nil }
        exchange.retriesLeft -= 1
        exchange.retriesTaken += 1
        exchange.upstreamAttached = false
        exchange.bodyForwarded = false
        state = .proxying(exchange)
        let backoff = backoff(afterRetry: exchange.retriesTaken, base: retries.backoff)
        return .retry(trigger, code: code, flag: exchange.recorded(flag), backoff: backoff)
    }

    /// Envoy's backoff: the base interval (the route's `retries.backoff`, else 25ms) doubling per retry, jittered, at
    /// most ten times the base.
    private mutating func backoff(afterRetry retry: Int, base: Duration?) -> Duration {
        let ceiling = Self.backoffCeiling(afterRetry: retry, base: base ?? Self.defaultBackoff)
        return .microseconds(Int64(random.next() % UInt64(ceiling)) + 1)
    }

    /// Envoy's base interval between tries when the route names none.
    static let defaultBackoff = Duration.milliseconds(25)

    /// The longest backoff, in microseconds, before retry number `retry` (from 1).
    static func backoffCeiling(afterRetry retry: Int, base: Duration = defaultBackoff) -> Int {
        let base = max(Int(TimeAmount(base).nanoseconds / 1_000), 1)
        return min(base << min(retry - 1, 8), 10 * base)
    }

    /// No answer started and none will come: the gateway answers. The connection stays open only when the
    /// client keeps it and the request was read to its end.
    private mutating func fail(_ exchange: Exchange, _ failure: UpstreamFailure) -> Action {
        // A request without a body has nothing left to read, even when its end is still on its way (an overflow is
        // decided as the head arrives): the connection stays for the next, as Envoy keeps it.
        let keepAlive = exchange.request.keepAlive && (exchange.requestEnded || !exchange.request.hasBody)
        state = exchange.requestEnded ? .idle : .respondingLocally
        if !keepAlive { closing = true }
        return .fail(failure, keepAlive: keepAlive)
    }
}
