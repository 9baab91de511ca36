import NIOCore
import NIOHTTP1
import SerinCore

/// Proxies the requests of one client connection: routes each, streams it to a pooled upstream
/// connection and streams the answer back, with backpressure in both directions.
///
/// Runs on the client channel's event loop; its upstream connections live on the same loop.
final class ProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case proxying(ProxyExchange)
        /// Answering locally (404, 503...); the rest of the request body is discarded.
        case respondingLocally
    }

    private let routes: RouteTableBox
    private let clusters: UpstreamClusters
    private let telemetry: GatewayTelemetry
    private let loop: LoopContext
    private let limits: GatewayLimits
    let deadlines: ConnectionDeadlines
    /// The port as the Gateway declares it, before `--port-offset`.
    private let declaredPort: Int
    private var random = FastRandom()
    private var endpointTurn = 0
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var clientAddress: String?
    /// Parts of requests that arrived while the previous one was still being answered (HTTP/1.1 pipelining),
    /// in order; each waits its turn, so responses go out in request order. Reads stop while any wait.
    private var pipelined = CircularBuffer<HTTPServerRequestPart>()
    /// A decoder error that came after the current request was complete: it belongs to the next one.
    private var pipelinedError: (any Error)?
    private var replaying = false

    init(
        routes: RouteTableBox, clusters: UpstreamClusters, telemetry: GatewayTelemetry, loop: LoopContext,
        declaredPort: Int, limits: GatewayLimits, deadlines: ConnectionDeadlines
    ) {
        self.routes = routes
        self.clusters = clusters
        self.telemetry = telemetry
        self.loop = loop
        self.declaredPort = declaredPort
        self.limits = limits
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress
        loop.register(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.unregister(self)
        self.context = nil
    }

    /// A drain began: a connection between requests closes now; one mid-exchange closes after its response.
    func closeIfIdle() {
        if case .idle = state { context?.close(promise: nil) }
    }

    /// The drain's time is up.
    func closeNow() {
        context?.close(promise: nil)
    }

    // MARK: Client → upstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // Reads go on while a response is under way (no read-interest toggling per request); a request that
        // starts before the previous one is answered waits.
        if !pipelined.isEmpty || pipelinedError != nil {
            pipelined.append(part)
            return
        }
        if case .head = part, !isIdle {
            pipelined.append(part)
            return
        }
        handle(part, context: context)
    }

    private var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// The current request has been read to its end (or there is none): what comes next is another request's.
    private var currentRequestEnded: Bool {
        switch state {
        case .idle: return true
        case .proxying(let exchange): return exchange.requestEnded
        case .respondingLocally: return false
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let body):
            guard case .proxying(let exchange) = state else { return }
            exchange.requestBytes += body.readableBytes
            forward(.body(.byteBuffer(body)), for: exchange)
        case .end(let trailers):
            switch state {
            case .proxying(let exchange):
                exchange.requestEnded = true
                forward(.end(trailers), for: exchange)
                exchange.upstream?.flush()
            case .respondingLocally:
                becomeIdle()
            case .idle:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.upstream?.flush() }
        context.fireChannelReadComplete()
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        deadlines.headReceived()
        if let (status, reason) = exceededLimit(head) {
            respondLocally(
                status, reason, head: head, started: started, closing: true,
                key: TrafficKey(destinationService: "unknown", responseCode: Int(status.code), responseFlags: "DPE")
            )
            return
        }
        let attributes = RequestAttributes(
            method: head.method.rawValue, target: head.uri,
            authority: head.headers.first(name: "host") ?? "", headers: NIORequestHeaders(headers: head.headers)
        )
        let route: RouteTable.Route
        switch routes.table.resolve(attributes, port: declaredPort) {
        case .noRoute(let reason):
            respondLocally(
                .notFound, "no route: \(reason)\n", head: head, started: started,
                key: TrafficKey(destinationService: "unknown", responseCode: 404, responseFlags: "NR")
            )
            return
        case .route(let found):
            route = found
        }
        let policy = route.policy
        if let direct = policy.directResponse {
            let body = direct.body?.contents ?? []
            var contentType: String?
            if case .string = direct.body { contentType = "text/plain; charset=utf-8" }
            respondLocally(
                HTTPResponseStatus(statusCode: direct.status), body: body, contentType: contentType, head: head, started: started,
                key: TrafficKey(destinationService: "unknown", responseCode: direct.status)
            )
            return
        }
        if let redirect = policy.redirect {
            respondLocally(
                HTTPResponseStatus(statusCode: redirect.redirectCode), body: [], contentType: nil,
                extraHeaders: [("location", RouteActions.location(for: redirect, request: head))], head: head, started: started,
                key: TrafficKey(destinationService: "unknown", responseCode: redirect.redirectCode)
            )
            return
        }
        let roll = Int(random.next() % UInt64(max(route.totalWeight, 1)))
        guard let target = route.target(forRoll: roll) else {
            respondLocally(
                .serviceUnavailable, "no healthy upstream: route \(route.label) has no weighted destination\n",
                head: head, started: started,
                key: TrafficKey(destinationService: "unknown", responseCode: 503, responseFlags: "UH")
            )
            return
        }
        endpointTurn &+= 1
        let shared = clusters.shared(for: target.cluster)
        guard let endpointIndex = pickEndpoint(of: target.cluster, shared: shared) else {
            let why =
                target.cluster.service == nil
                ? "\(target.cluster.host) does not resolve to a Service or ServiceEntry"
                : target.cluster.endpoints.isEmpty
                    ? "\(target.cluster.host) has no endpoints (in embedded mode a ServiceEntry with STATIC endpoints says where it lives)"
                    : "every endpoint of \(target.cluster.name) is ejected by outlier detection"
            respondLocally(
                .serviceUnavailable, "no healthy upstream: \(why)\n", head: head, started: started,
                key: TrafficKey(
                    destinationService: target.cluster.host, subset: target.cluster.subset,
                    responseCode: 503, responseFlags: "UH"
                )
            )
            return
        }
        if let abort = policy.fault?.abort, abort.percentage.includes(draw: percentDraw()) {
            respondLocally(
                HTTPResponseStatus(statusCode: abort.httpStatus), "fault filter abort\n", head: head, started: started,
                key: TrafficKey(
                    destinationService: target.cluster.host, subset: target.cluster.subset,
                    responseCode: abort.httpStatus, responseFlags: "FI"
                )
            )
            return
        }
        var upstreamHead = ProxyHeaders.upstreamRequest(head, clientAddress: clientAddress) { random.requestID() }
        if let rewrite = policy.rewrite {
            RouteActions.rewrite(rewrite, head: &upstreamHead, matchedPrefix: RouteActions.matchedPrefix(of: route, path: attributes.path))
        }
        if let operations = policy.headers?.request, !operations.isEmpty {
            RouteActions.apply(operations, to: &upstreamHead.headers)
        }
        let exchange = ProxyExchange(
            upstreamHead: upstreamHead, downstreamVersion: head.version, keepAlive: head.isKeepAlive,
            route: route, target: target, endpointIndex: endpointIndex, cluster: shared, started: started
        )
        state = .proxying(exchange)
        if let timeout = policy.timeout {
            exchange.deadline = schedule(after: timeout) { handler in handler.timedOut(exchange) }
        }
        if let mirror = policy.mirror, mirror.percentage.includes(draw: percentDraw()),
            let mirrorEndpoint = mirror.cluster.endpoint(forTurn: endpointTurn)
        {
            exchange.mirror = startMirror(of: upstreamHead, to: mirror.cluster, endpoint: mirrorEndpoint, started: started)
        }
        if let delay = policy.fault?.delay, delay.percentage.includes(draw: percentDraw()) {
            exchange.injectedFlag = "DI"
            _ = schedule(after: delay.fixedDelay) { handler in
                guard case .proxying(let current) = handler.state, current === exchange, !exchange.abandoned else { return }
                handler.connect(exchange)
            }
        } else {
            connect(exchange)
        }
    }

    /// The endpoint index for the next round-robin turn; outlier detection skips ejected endpoints.
    private func pickEndpoint(of cluster: Cluster, shared: UpstreamCluster?) -> Int? {
        if let shared { return shared.pick(forTurn: endpointTurn, now: UpstreamCluster.now) }
        guard !cluster.endpoints.isEmpty else { return nil }
        return Int(endpointTurn.magnitude % UInt(cluster.endpoints.count))
    }

    /// A uniform draw in 0..<100, for the percentages of faults and mirrors.
    private func percentDraw() -> Double {
        Double(random.next() >> 11) / Double(UInt64(1) << 53) * 100
    }

    /// Runs `body` on this loop after `delay`, unless the handler is gone by then.
    @discardableResult
    private func schedule(after delay: Duration, _ body: @escaping (ProxyHandler) -> Void) -> Scheduled<Void> {
        let (seconds, attoseconds) = delay.components
        let amount = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return loop.eventLoop.assumeIsolated().scheduleTask(in: amount) { [weak self] in
            if let self { body(self) }
        }
    }

    private func startMirror(
        of head: HTTPRequestHead, to cluster: Cluster, endpoint: Cluster.Endpoint, started: NIODeadline
    ) -> MirrorExchange {
        let telemetry = self.telemetry
        let shard = loop.shard
        return MirrorExchange(original: head, endpoint: endpoint, pool: loop.pool) { status, flags in
            telemetry.record(
                TrafficKey(
                    destinationService: cluster.host,
                    destinationNamespace: cluster.service?.namespace ?? ResourceName.defaultNamespace,
                    subset: cluster.subset, version: endpoint.labels["version"], workload: endpoint.workload,
                    responseCode: status, responseFlags: flags
                ),
                milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: 0, shard: shard
            )
        }
    }

    /// 414 or 431 with the reason when a request head is larger than the limits allow.
    private func exceededLimit(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        if head.uri.utf8.count > limits.maxURIBytes {
            return (.uriTooLong, "request target of \(head.uri.utf8.count) bytes exceeds the limit of \(limits.maxURIBytes)\n")
        }
        if head.headers.count > limits.maxHeaderCount {
            return (
                .requestHeaderFieldsTooLarge,
                "\(head.headers.count) request header fields exceed the limit of \(limits.maxHeaderCount)\n"
            )
        }
        var bytes = 0
        for (name, value) in head.headers { bytes += name.utf8.count + value.utf8.count }
        if bytes > limits.maxHeaderBytes {
            return (.requestHeaderFieldsTooLarge, "request headers of \(bytes) bytes exceed the limit of \(limits.maxHeaderBytes)\n")
        }
        return nil
    }

    /// A part fresh from the client: kept for a possible retry, copied to the mirror, sent upstream.
    private func forward(_ part: HTTPClientRequestPart, for exchange: ProxyExchange) {
        if exchange.replay != nil {
            if case .body(.byteBuffer(let buffer)) = part { exchange.replayBytes += buffer.readableBytes }
            if exchange.replayBytes > ProxyExchange.maxReplayBytes {
                exchange.replay = nil
            } else {
                exchange.replay?.append(part)
            }
        }
        exchange.mirror?.send(part)
        send(part, for: exchange)
    }

    /// Writes a request part upstream, or keeps it until the connection is ready.
    private func send(_ part: HTTPClientRequestPart, for exchange: ProxyExchange) {
        guard let upstream = exchange.upstream else {
            exchange.buffered.append(part)
            return
        }
        if case .body = part { exchange.bodyForwarded = true }
        upstream.write(part)
    }

    private func connect(_ exchange: ProxyExchange) {
        exchange.attempts += 1
        let pool = loop.pool
        let waiting = pool.lease(exchange.endpointAddress, cluster: exchange.cluster) { result in
            self.connected(exchange, result)
        }
        if let waiting { exchange.waiting = (waiting, pool) }
    }

    private func connected(_ exchange: ProxyExchange, _ result: Result<UpstreamConnection, any Error>) {
        exchange.waiting = nil
        guard case .proxying(let current) = state, current === exchange, !exchange.abandoned else {
            if case .success(let connection) = result { loop.pool.release(connection) }
            return
        }
        switch result {
        case .failure(let overflow as UpstreamOverflow):
            // Envoy's circuit breaker: answered at once, never retried, and no mark against the endpoint.
            failBeforeResponse(exchange, flags: "UO", reason: "\(overflow)")
        case .failure(let error):
            exchange.observe(.connectFailure)
            if retry(exchange, after: .connectFailure, code: 503, flags: "UF") { return }
            failBeforeResponse(
                exchange, flags: "UF",
                reason: "upstream connect error: \(exchange.endpointAddress) (\(exchange.target.cluster.host)): \(error)"
            )
        case .success(let connection):
            connection.delegate = self
            connection.requestsServed += 1
            exchange.upstream = connection
            if let perTry = exchange.route.policy.retries?.perTryTimeout {
                exchange.tryDeadline = schedule(after: perTry) { handler in handler.tryTimedOut(exchange) }
            }
            connection.write(.head(exchange.upstreamHead))
            let buffered = exchange.buffered
            exchange.buffered = []
            for part in buffered { send(part, for: exchange) }
            connection.flush()
        }
    }

    // MARK: Retries and timeouts

    /// What ended an attempt, for Istio's `retryOn`.
    private enum RetryTrigger {
        case connectFailure
        case reset
        case status(Int)
        case perTryTimeout

        func isCovered(by retries: HTTPRetry) -> Bool {
            switch self {
            case .connectFailure:
                return retries.retryOn.contains(.connectFailure) || retries.retryOn.contains(.refusedStream)
                    || retries.retryOn.contains(.serverError)
            case .reset:
                return retries.retryOn.contains(.reset) || retries.retryOn.contains(.serverError)
            case .status(let status):
                return retries.retries(status: status)
            case .perTryTimeout:
                return retries.retryOn.contains(.serverError) || retries.retryOn.contains(.gatewayError)
                    || retries.retryOn.contains(.reset)
            }
        }
    }

    /// Starts another attempt when the route's retry policy covers `trigger`, a retry is left, and the
    /// request can be sent again; the failed attempt is counted as the destination saw it.
    private func retry(_ exchange: ProxyExchange, after trigger: RetryTrigger, code: Int, flags: String) -> Bool {
        guard exchange.retriesLeft > 0, !exchange.responseStarted, let retries = exchange.route.policy.retries,
            trigger.isCovered(by: retries), let replay = exchange.replay
        else { return false }
        record(exchange, code: code, flags: flags)
        exchange.retriesLeft -= 1
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        exchange.upstream = nil
        exchange.tryDeadline?.cancel()
        exchange.tryDeadline = nil
        exchange.buffered = replay
        exchange.bodyForwarded = false
        endpointTurn &+= 1
        if let next = pickEndpoint(of: exchange.target.cluster, shared: exchange.cluster) { exchange.move(toEndpoint: next) }
        // Envoy's backoff: 25ms doubling per retry, jittered, at most 250ms.
        let attempt = retries.attempts - exchange.retriesLeft
        let ceiling = min(25 << (attempt - 1), 250)
        let backoff = Duration.milliseconds(Int(random.next() % UInt64(ceiling)) + 1)
        schedule(after: backoff) { handler in
            guard case .proxying(let current) = handler.state, current === exchange, !exchange.abandoned else { return }
            handler.connect(exchange)
        }
        return true
    }

    /// The route's `timeout` passed: 504 if no answer started, else the client connection is cut.
    private func timedOut(_ exchange: ProxyExchange) {
        guard case .proxying(let current) = state, current === exchange, !exchange.abandoned else { return }
        exchange.deadline = nil
        guard exchange.responseStarted else {
            if exchange.upstream != nil { exchange.observe(.timeout) }
            failBeforeResponse(
                exchange, status: .gatewayTimeout, flags: "UT",
                reason: "upstream request timeout: \(exchange.target.cluster.host) did not answer within "
                    + "\(exchange.route.policy.timeout.map(Self.describe) ?? "the route's timeout")"
            )
            return
        }
        exchange.cancelTimers()
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        exchange.upstream = nil
        record(exchange, code: exchange.responseCode, flags: "UT")
        becomeIdle()
        context?.close(promise: nil)
    }

    /// `retries.perTryTimeout` passed before the answer's head: retried if the policy allows, else 504.
    private func tryTimedOut(_ exchange: ProxyExchange) {
        guard case .proxying(let current) = state, current === exchange, !exchange.abandoned, !exchange.responseStarted else { return }
        exchange.tryDeadline = nil
        exchange.observe(.timeout)
        if retry(exchange, after: .perTryTimeout, code: 504, flags: "UT") { return }
        failBeforeResponse(
            exchange, status: .gatewayTimeout, flags: "UT",
            reason: "upstream request timeout: \(exchange.endpointAddress) (\(exchange.target.cluster.host)) did not answer within "
                + "\(exchange.route.policy.retries?.perTryTimeout.map(Self.describe) ?? "the per-try timeout")"
        )
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    // MARK: Backpressure

    /// The exchange is over: a client read held back for a slow upstream must not outlive it.
    private func becomeIdle() {
        state = .idle
        deadlines.exchangeEnded()
        replayPipelined()
        resumeHeldRead()
    }

    /// Starts the requests that waited their turn, in order, until one is under way again.
    private func replayPipelined() {
        guard !replaying, let context else { return }
        replaying = true
        defer { replaying = false }
        defer { if case .proxying(let exchange) = state { exchange.upstream?.flush() } }
        while let part = pipelined.first {
            if case .head = part, !isIdle { return }
            pipelined.removeFirst()
            handle(part, context: context)
        }
        if isIdle, let error = pipelinedError {
            pipelinedError = nil
            handleError(error, context: context)
        }
    }

    private func resumeHeldRead() {
        guard pendingRead, pipelined.isEmpty, pipelinedError == nil, !replaying, let context else { return }
        pendingRead = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        if !pipelined.isEmpty || pipelinedError != nil {
            pendingRead = true
            return
        }
        if case .proxying(let exchange) = state, let upstream = exchange.upstream, !upstream.isWritable {
            pendingRead = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .proxying(let exchange) = state {
            exchange.upstream?.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Endings

    func channelInactive(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state {
            exchange.abandoned = true
            exchange.cancelTimers()
            // The client left mid-exchange: the upstream connection is in an unknown state.
            exchange.upstream?.delegate = nil
            exchange.upstream?.close()
            record(exchange, code: exchange.responseStarted ? exchange.responseCode : 0, flags: "DC")
        }
        state = .idle
        pipelined.removeAll()
        pipelinedError = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a complete request, the error is the next request's: it waits its turn like that request would.
        if !pipelined.isEmpty || (currentRequestEnded && !isIdle) {
            pipelinedError = error
            return
        }
        handleError(error, context: context)
    }

    private func handleError(_ error: any Error, context: ChannelHandlerContext) {
        // The decoder rejected the request: answer it when no response is under way, then close.
        guard let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        var answerable = false
        switch state {
        case .idle:
            answerable = true
        case .respondingLocally:
            // The local answer is written already.
            answerable = false
        case .proxying(let exchange):
            // A broken body: the upstream has part of a request it must never complete.
            answerable = !exchange.responseStarted
            exchange.abandoned = true
            exchange.cancelTimers()
            exchange.upstream?.delegate = nil
            exchange.upstream?.close()
            exchange.upstream = nil
        }
        if answerable {
            let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            state = .respondingLocally
            telemetry.record(
                TrafficKey(destinationService: "unknown", responseCode: Int(status.code), responseFlags: "DPE"),
                milliseconds: 0, requestBytes: 0, responseBytes: 0, shard: loop.shard
            )
            writeLocalResponse(status, "malformed request: \(parseError)\n", version: .http1_1, keepAlive: false)
            return
        }
        context.close(promise: nil)
    }

    private func failBeforeResponse(
        _ exchange: ProxyExchange, status: HTTPResponseStatus = .serviceUnavailable, flags: String, reason: String
    ) {
        exchange.cancelTimers()
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        exchange.upstream = nil
        // Counted before the answer goes out, so whoever reads the answer also sees it counted.
        telemetry.record(
            exchange.trafficKey(code: Int(status.code), flags: flags), milliseconds: Self.milliseconds(since: exchange.started),
            requestBytes: exchange.requestBytes, responseBytes: 0, shard: loop.shard
        )
        let ended = exchange.requestEnded
        if ended { becomeIdle() } else { state = .respondingLocally }
        writeLocalResponse(status, reason + "\n", version: exchange.downstreamVersion, keepAlive: exchange.keepAlive && ended)
    }

    private func respondLocally(
        _ status: HTTPResponseStatus, _ body: String, head: HTTPRequestHead, started: NIODeadline, closing: Bool = false,
        key: TrafficKey
    ) {
        respondLocally(
            status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8", head: head, started: started,
            closing: closing, key: key
        )
    }

    private func respondLocally(
        _ status: HTTPResponseStatus, body: [UInt8], contentType: String?, extraHeaders: [(String, String)] = [],
        head: HTTPRequestHead, started: NIODeadline, closing: Bool = false, key: TrafficKey
    ) {
        state = .respondingLocally
        telemetry.record(
            key, milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: body.count,
            shard: loop.shard
        )
        // The request body, if any, is still coming: closing afterwards is simpler than draining it.
        let bodyExpected =
            head.headers.first(name: "content-length").map { $0 != "0" } ?? head.headers.contains(name: "transfer-encoding")
        writeLocalResponse(
            status, body: body, contentType: contentType, extraHeaders: extraHeaders, version: head.version,
            keepAlive: head.isKeepAlive && !bodyExpected && !closing
        )
    }

    private func writeLocalResponse(_ status: HTTPResponseStatus, _ body: String, version: HTTPVersion, keepAlive: Bool) {
        writeLocalResponse(status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8", version: version, keepAlive: keepAlive)
    }

    private func writeLocalResponse(
        _ status: HTTPResponseStatus, body: [UInt8], contentType: String?, extraHeaders: [(String, String)] = [],
        version: HTTPVersion, keepAlive: Bool
    ) {
        guard let context else { return }
        let keepAlive = keepAlive && !loop.draining
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "content-type", value: contentType) }
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "server", value: "serin")
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        finishResponse(context: context, keepAlive: keepAlive)
    }

    private func finishResponse(context: ChannelHandlerContext, keepAlive: Bool) {
        if keepAlive && !loop.draining {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    private func record(_ exchange: ProxyExchange, code: Int, flags: String) {
        telemetry.record(
            exchange.trafficKey(code: code, flags: flags), milliseconds: Self.milliseconds(since: exchange.started),
            requestBytes: exchange.requestBytes, responseBytes: exchange.responseBytes, shard: loop.shard
        )
    }

    private static func milliseconds(since start: NIODeadline) -> Double {
        Double((NIODeadline.now() - start).nanoseconds) / 1_000_000
    }
}

// MARK: Upstream → client

extension ProxyHandler: UpstreamDelegate {
    var downstreamIsWritable: Bool { context?.channel.isWritable ?? false }

    func upstream(_ connection: UpstreamConnection, received part: HTTPClientResponsePart) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        switch part {
        case .head(let head):
            exchange.tryDeadline?.cancel()
            exchange.tryDeadline = nil
            exchange.observe(.response(status: Int(head.status.code)))
            // A retriable answer is dropped and counted; the client sees only the last attempt's.
            if retry(exchange, after: .status(Int(head.status.code)), code: Int(head.status.code), flags: "-") { return }
            exchange.responseStarted = true
            exchange.responseCode = Int(head.status.code)
            var response = ProxyHeaders.downstreamResponse(
                head, version: exchange.downstreamVersion, keepAlive: exchange.keepAlive && !loop.draining
            )
            if let operations = exchange.route.policy.headers?.response, !operations.isEmpty {
                RouteActions.apply(operations, to: &response.headers)
            }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let body):
            exchange.responseBytes += body.readableBytes
            // Flushed when the upstream read completes: one write system call per read, not per part.
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        case .end:
            exchange.cancelTimers()
            exchange.upstream = nil
            becomeIdle()
            if exchange.requestEnded {
                loop.pool.release(connection)
            } else {
                // The upstream answered before the whole request arrived; the connection's framing is unknowable.
                connection.delegate = nil
                connection.close()
            }
            record(exchange, code: exchange.responseCode, flags: "-")
            finishResponse(context: context, keepAlive: exchange.keepAlive && exchange.requestEnded)
        }
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        exchange.upstream = nil
        if exchange.responseStarted {
            exchange.cancelTimers()
            // Part of the answer is out already: the only honest signal left is closing the client connection.
            record(exchange, code: exchange.responseCode, flags: "UC")
            becomeIdle()
            context.close(promise: nil)
            return
        }
        if let parseError = error as? HTTPParserError {
            // The upstream answered, but not in HTTP: a bad gateway, not an unavailable one.
            exchange.observe(.response(status: 502))
            if retry(exchange, after: .status(502), code: 502, flags: "UPE") { return }
            failBeforeResponse(
                exchange, status: .badGateway, flags: "UPE",
                reason: "upstream protocol error: \(exchange.endpointAddress) (\(exchange.target.cluster.host)) "
                    + "sent a malformed response: \(parseError)"
            )
            return
        }
        // A pooled connection the server closed while idle fails before any response byte;
        // resending is safe as long as no body bytes went out.
        if connection.requestsServed > 1, !exchange.bodyForwarded, exchange.attempts < 3 {
            exchange.buffered = exchange.requestEnded ? [.end(nil)] : []
            connect(exchange)
            return
        }
        exchange.observe(.reset)
        if retry(exchange, after: .reset, code: 503, flags: "UC") { return }
        failBeforeResponse(
            exchange, flags: "UC",
            reason: "upstream connect error or disconnect/reset before headers: \(exchange.endpointAddress) "
                + "(\(exchange.target.cluster.host))" + (error.map { ": \($0)" } ?? "")
        )
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        context.flush()
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard connection.isWritable, pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
