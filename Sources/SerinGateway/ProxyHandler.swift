import NIOCore
import NIOHTTP1
import SerinCore

/// Proxies the requests of one client connection: reads each request head from the bytes the client
/// sends, routes it, forwards it and its body to a pooled upstream connection and streams the answer back,
/// with backpressure in both directions. Bodies pass through as they came (chunked framing included);
/// only heads are parsed and rewritten.
///
/// Runs on the client channel's event loop; its upstream connections live on the same loop.
final class ProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

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
    /// What is left to read of the current request's body; nil between requests (the next bytes start one).
    private var body: BodyReader?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var clientAddress: String?
    /// Bytes received and not yet handled: part of a head, or requests pipelined behind the one being
    /// answered (HTTP/1.1 pipelining), which wait their turn so responses go out in request order.
    private var inbound: ByteBuffer?
    /// Where the next request head ends, searched for as its bytes arrive.
    private var headEnd = HeadEndSearch()
    private var processing = false
    /// A response that ends the connection is under way: nothing more is read.
    private var closing = false
    /// Whether response bytes were written to the client since the last flush.
    private var unflushedToClient = false
    /// A response head not written yet: the body's first bytes join it.
    private var heldHead: ByteBuffer?
    /// The last heads written each way, whose memory the next ones reuse (see `reuse`).
    private var upstreamHeadBuffer: ByteBuffer?
    private var responseHeadBuffer: ByteBuffer?
    /// Routing reads the request's fields through this one object per connection: no box per request.
    private let headerLookup = HeaderLookup()
    /// Whether the current request has a body (local answers then close rather than drain it).
    private var bodyExpected = false

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
        deadlines.attach(context)
        clientAddress = context.channel.remoteAddress?.ipAddress
        loop.register(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.unregister(self)
        deadlines.attach(nil)
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
        guard !closing else { return }
        deadlines.bytesArrived()
        let bytes = unwrapInboundIn(data)
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeImmutableBuffer(bytes)
        }
        processInbound()
    }

    private var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// Handles the bytes received so far: body bytes of the current request, or, once no exchange is under
    /// way, the next request's head. Stops at an incomplete head or a request that must wait its turn.
    private func processInbound() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !closing, var buffer = inbound, buffer.readableBytes > 0 {
            inbound = nil
            if var reader = body {
                let part: (bytes: ByteBuffer, dataBytes: Int, ended: Bool)
                do {
                    part = try reader.read(from: &buffer)
                } catch {
                    return malformedBody(error)
                }
                body = part.ended ? nil : reader
                keep(buffer)
                requestBody(part.bytes, dataBytes: part.dataBytes)
                if part.ended { requestEnded() }
                continue
            }
            guard isIdle else {
                keep(buffer)
                return
            }
            let blank = buffer.withUnsafeReadableBytes { HTTP1HeadParser.leadingEmptyLines($0) }
            buffer.moveReaderIndex(forwardBy: blank)
            guard let end = headEnd.find(in: buffer) else {
                if let tooLarge = buffer.withUnsafeReadableBytes({ HTTP1HeadParser.incompleteHeadTooLarge($0, limits: limits) }) {
                    return reject(tooLarge)
                }
                keep(buffer)
                return
            }
            let headBytes = buffer.readSlice(length: end)!
            keep(buffer)
            let head: RequestHead
            let framing: BodyFraming
            do {
                head = try HTTP1HeadParser.parseRequest(headBytes, limits: limits)
                framing = try BodyFraming.ofRequest(head)
            } catch {
                return reject(error)
            }
            body = BodyReader(framing)
            begin(head, bodyExpected: framing.hasBody)
            if body == nil { requestEnded() }
        }
    }

    /// Puts back what is left of `buffer` for later.
    private func keep(_ buffer: ByteBuffer) {
        inbound = buffer.readableBytes > 0 ? buffer : nil
    }

    /// Body bytes as they came (chunk framing included), of which `dataBytes` are the body itself: what
    /// `istio_request_bytes` counts.
    private func requestBody(_ bytes: ByteBuffer, dataBytes: Int) {
        guard case .proxying(let exchange) = state else { return }
        exchange.requestBytes += dataBytes
        forward(bytes, for: exchange)
    }

    /// The current request has been read to its end.
    private func requestEnded() {
        switch state {
        case .proxying(let exchange):
            exchange.requestEnded = true
            exchange.mirror?.endRequest()
            exchange.upstream?.flush()
        case .respondingLocally:
            becomeIdle()
        case .idle:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.upstream?.flush() }
        context.fireChannelReadComplete()
    }

    private func begin(_ head: RequestHead, bodyExpected: Bool) {
        let started = NIODeadline.now()
        deadlines.headReceived()
        self.bodyExpected = bodyExpected
        headerLookup.fields = head.fields
        let attributes = RequestAttributes(
            method: head.method, target: head.target, authority: head.fields.first(.host) ?? "", headers: headerLookup
        )
        let route: RouteTable.Route
        switch routes.table.resolve(attributes, port: declaredPort) {
        case .noRoute(let reason):
            respondLocally(
                .notFound, "no route: \(reason)\n", head: head, started: started,
                key: TrafficKey(destinationService: "unknown", responseCode: 404, responseFlags: .noRoute)
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
                key: TrafficKey(destinationService: "unknown", responseCode: 503, responseFlags: .noHealthyUpstream)
            )
            return
        }
        endpointTurn &+= 1
        let shared = clusters.shared(for: target)
        guard let endpointIndex = pickEndpoint(of: target, shared: shared) else {
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
                    responseCode: 503, responseFlags: .noHealthyUpstream
                )
            )
            return
        }
        if let abort = policy.fault?.abort, abort.percentage.includes(draw: percentDraw()) {
            respondLocally(
                HTTPResponseStatus(statusCode: abort.httpStatus), "fault filter abort\n", head: head, started: started,
                key: TrafficKey(
                    destinationService: target.cluster.host, subset: target.cluster.subset,
                    responseCode: abort.httpStatus, responseFlags: .faultInjected
                )
            )
            return
        }
        // The common request is forwarded as it came, less hop-by-hop fields, plus the forwarding fields,
        // written straight from the bytes read; rewrites and header edits work on a copy first.
        var encodedHead = reuse(&upstreamHeadBuffer, capacity: 256 + head.target.utf8.count)
        var mirrorTo: (cluster: Cluster, endpoint: Cluster.Endpoint, head: RequestHead)?
        let editsRequest = policy.rewrite != nil || !(policy.headers?.request.isEmpty ?? true)
        if !editsRequest && policy.mirror == nil {
            ProxyHeaders.writeUpstreamRequest(head, clientAddress: clientAddress, random: &random, to: &encodedHead)
        } else {
            var upstreamHead = head
            if let rewrite = policy.rewrite {
                RouteActions.rewrite(
                    rewrite, head: &upstreamHead, matchedPrefix: RouteActions.matchedPrefix(of: route, path: attributes.path)
                )
            }
            if let operations = policy.headers?.request, !operations.isEmpty {
                RouteActions.apply(operations, to: &upstreamHead.fields)
            }
            if let mirror = policy.mirror, mirror.percentage.includes(draw: percentDraw()),
                let mirrorEndpoint = mirror.cluster.endpoint(forTurn: endpointTurn)
            {
                // The shadow carries the same request id as the real request.
                if !upstreamHead.fields.contains(.xRequestID) {
                    upstreamHead.fields.add(name: "x-request-id", value: random.requestID())
                }
                mirrorTo = (mirror.cluster, mirrorEndpoint, upstreamHead)
            }
            ProxyHeaders.writeUpstreamRequest(upstreamHead, clientAddress: clientAddress, random: &random, to: &encodedHead)
        }
        upstreamHeadBuffer = encodedHead
        let exchange = ProxyExchange(
            upstreamHead: encodedHead, isHEAD: head.isHEAD, downstreamVersion: head.version, keepAlive: head.isKeepAlive,
            route: route, target: target, endpointIndex: endpointIndex, cluster: shared, started: started
        )
        state = .proxying(exchange)
        if let timeout = policy.timeout {
            exchange.deadline = schedule(after: timeout) { handler in handler.timedOut(exchange) }
        }
        if let mirrorTo {
            exchange.mirror = startMirror(of: mirrorTo.head, to: mirrorTo.cluster, endpoint: mirrorTo.endpoint, started: started)
        }
        if let delay = policy.fault?.delay, delay.percentage.includes(draw: percentDraw()) {
            exchange.injectedFlag = .delayInjected
            _ = schedule(after: delay.fixedDelay) { handler in
                guard case .proxying(let current) = handler.state, current === exchange, !exchange.abandoned else { return }
                handler.connect(exchange)
            }
        } else {
            connect(exchange)
        }
    }

    /// The endpoint index for the next round-robin turn; outlier detection skips ejected endpoints.
    private func pickEndpoint(of target: RouteTable.Target, shared: UpstreamCluster?) -> Int? {
        if let shared { return shared.pick(forTurn: endpointTurn, now: UpstreamCluster.now) }
        let count = target.cluster.endpoints.count
        guard count > 0 else { return nil }
        return Int(endpointTurn.magnitude % UInt(count))
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
        of head: RequestHead, to cluster: Cluster, endpoint: Cluster.Endpoint, started: NIODeadline
    ) -> MirrorExchange {
        let telemetry = self.telemetry
        let shard = loop.shard
        return MirrorExchange(original: head, clientAddress: clientAddress, endpoint: endpoint, pool: loop.pool) { status, flags in
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

    /// Body bytes fresh from the client: kept for a possible retry, copied to the mirror, sent upstream.
    private func forward(_ bytes: ByteBuffer, for exchange: ProxyExchange) {
        if exchange.replay != nil {
            exchange.replayBytes += bytes.readableBytes
            if exchange.replayBytes > ProxyExchange.maxReplayBytes {
                exchange.replay = nil
            } else {
                exchange.replay?.append(bytes)
            }
        }
        exchange.mirror?.send(body: bytes)
        send(bytes, for: exchange)
    }

    /// Writes body bytes upstream, or keeps them until the connection is ready.
    private func send(_ bytes: ByteBuffer, for exchange: ProxyExchange) {
        guard let upstream = exchange.upstream else {
            exchange.buffered.append(bytes)
            return
        }
        exchange.bodyForwarded = true
        upstream.write(bytes)
    }

    private func connect(_ exchange: ProxyExchange) {
        exchange.attempts += 1
        let pool = loop.pool
        let endpoint = exchange.endpointAddress
        if let idle = pool.takeIdle(endpoint, cluster: exchange.cluster) {
            connected(exchange, .success(idle))
            return
        }
        let waiting = pool.lease(endpoint, cluster: exchange.cluster) { result in
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
            failBeforeResponse(exchange, flags: .upstreamOverflow, reason: "\(overflow)")
        case .failure(let error):
            exchange.observe(.connectFailure)
            if retry(exchange, after: .connectFailure, code: 503, flags: .upstreamConnectionFailure) { return }
            failBeforeResponse(
                exchange, flags: .upstreamConnectionFailure,
                reason: "upstream connect error: \(exchange.endpointAddress) (\(exchange.target.cluster.host)): \(error)"
            )
        case .success(let connection):
            connection.delegate = self
            connection.requestsServed += 1
            exchange.upstream = connection
            if let perTry = exchange.route.policy.retries?.perTryTimeout {
                exchange.tryDeadline = schedule(after: perTry) { handler in handler.tryTimedOut(exchange) }
            }
            connection.send(head: exchange.upstreamHead, isHEAD: exchange.isHEAD)
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
    private func retry(_ exchange: ProxyExchange, after trigger: RetryTrigger, code: Int, flags: ResponseFlag) -> Bool {
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
        if let next = pickEndpoint(of: exchange.target, shared: exchange.cluster) { exchange.move(toEndpoint: next) }
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
                exchange, status: .gatewayTimeout, flags: .upstreamRequestTimeout,
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
        record(exchange, code: exchange.responseCode, flags: .upstreamRequestTimeout)
        closing = true
        state = .idle
        context?.close(promise: nil)
    }

    /// `retries.perTryTimeout` passed before the answer's head: retried if the policy allows, else 504.
    private func tryTimedOut(_ exchange: ProxyExchange) {
        guard case .proxying(let current) = state, current === exchange, !exchange.abandoned, !exchange.responseStarted else { return }
        exchange.tryDeadline = nil
        exchange.observe(.timeout)
        if retry(exchange, after: .perTryTimeout, code: 504, flags: .upstreamRequestTimeout) { return }
        failBeforeResponse(
            exchange, status: .gatewayTimeout, flags: .upstreamRequestTimeout,
            reason: "upstream request timeout: \(exchange.endpointAddress) (\(exchange.target.cluster.host)) did not answer within "
                + "\(exchange.route.policy.retries?.perTryTimeout.map(Self.describe) ?? "the per-try timeout")"
        )
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    // MARK: Backpressure

    /// The exchange is over: requests that waited their turn start, and a held read resumes.
    private func becomeIdle() {
        state = .idle
        deadlines.exchangeEnded()
        guard !closing else { return }
        processInbound()
        if case .proxying(let exchange) = state { exchange.upstream?.flush() }
        resumeHeldRead()
    }

    private func resumeHeldRead() {
        guard pendingRead, !holdsReads, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Reads wait while a pipelined request waits its turn, or while the upstream cannot take more.
    private var holdsReads: Bool {
        switch state {
        case .idle:
            return false
        case .respondingLocally:
            return inbound != nil && isBetweenRequests
        case .proxying(let exchange):
            if inbound != nil && isBetweenRequests { return true }
            if let upstream = exchange.upstream, !upstream.isWritable { return true }
            return false
        }
    }

    private var isBetweenRequests: Bool { body == nil }

    func read(context: ChannelHandlerContext) {
        if holdsReads {
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
            record(exchange, code: exchange.responseStarted ? exchange.responseCode : 0, flags: .downstreamConnectionTermination)
        }
        state = .idle
        closing = true
        inbound = nil
        deadlines.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// A request head the gateway will not forward (malformed, or over the limits): answered, then closed.
    private func reject(_ error: MalformedMessage) {
        inbound = nil
        telemetry.record(
            TrafficKey(destinationService: "unknown", responseCode: Int(error.status.code), responseFlags: .downstreamProtocolError),
            milliseconds: 0, requestBytes: 0, responseBytes: 0, shard: loop.shard
        )
        state = .respondingLocally
        writeLocalResponse(error.status, error.reason + "\n", version: .http1_1, keepAlive: false)
    }

    /// A request body broke its framing: the upstream has part of a request it must never complete.
    private func malformedBody(_ error: MalformedMessage) {
        inbound = nil
        var answerable = true
        if case .proxying(let exchange) = state {
            answerable = !exchange.responseStarted
            exchange.abandoned = true
            exchange.cancelTimers()
            exchange.mirror = nil
            exchange.upstream?.delegate = nil
            exchange.upstream?.close()
            exchange.upstream = nil
        } else if case .respondingLocally = state {
            // The local answer is written already.
            answerable = false
        }
        guard answerable else {
            closing = true
            context?.close(promise: nil)
            return
        }
        reject(error)
    }

    private func failBeforeResponse(
        _ exchange: ProxyExchange, status: HTTPResponseStatus = .serviceUnavailable, flags: ResponseFlag, reason: String
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
        state = .respondingLocally
        writeLocalResponse(status, reason + "\n", version: exchange.downstreamVersion, keepAlive: exchange.keepAlive && ended)
        if ended { becomeIdle() }
    }

    private func respondLocally(
        _ status: HTTPResponseStatus, _ body: String, head: RequestHead, started: NIODeadline, key: TrafficKey
    ) {
        respondLocally(
            status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8", head: head, started: started, key: key
        )
    }

    private func respondLocally(
        _ status: HTTPResponseStatus, body: [UInt8], contentType: String?, extraHeaders: [(String, String)] = [],
        head: RequestHead, started: NIODeadline, key: TrafficKey
    ) {
        state = .respondingLocally
        telemetry.record(
            key, milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: body.count,
            shard: loop.shard
        )
        // The request body, if any, is still coming: closing afterwards is simpler than draining it.
        writeLocalResponse(
            status, body: body, contentType: contentType, extraHeaders: extraHeaders, version: head.version,
            keepAlive: head.isKeepAlive && !bodyExpected
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
        var fields = HeaderFields()
        if let contentType { fields.add(name: "content-type", value: contentType) }
        fields.add(name: "content-length", value: String(body.count))
        fields.add(name: "server", value: "serin")
        for (name, value) in extraHeaders { fields.add(name: name, value: value) }
        let head = ResponseHead(version: version, status: Int(status.code), reason: status.reasonPhrase, fields: fields, isKeepAlive: keepAlive)
        var bytes = context.channel.allocator.buffer(capacity: 128 + body.count)
        ProxyHeaders.writeDownstreamResponse(head, version: version, keepAlive: keepAlive, decodedBody: false, to: &bytes)
        bytes.writeBytes(body)
        context.write(wrapOutboundOut(bytes), promise: nil)
        finishResponse(context: context, keepAlive: keepAlive)
    }

    /// The response's last bytes are written: flushed, and the connection closed unless it is kept alive.
    private func finishResponse(context: ChannelHandlerContext, keepAlive: Bool) {
        unflushedToClient = false
        writeHeldHead(context: context)
        if keepAlive && !loop.draining {
            context.flush()
        } else {
            closing = true
            inbound = nil
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    private func record(_ exchange: ProxyExchange, code: Int, flags: ResponseFlag) {
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

    func upstream(_ connection: UpstreamConnection, receivedHead head: ResponseHead) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        var expectedBody = 0
        if case .value(let length) = head.fields.contentLength, length <= Self.coalescedBodyBytes { expectedBody = length }
        var bytes = reuse(&responseHeadBuffer, capacity: 384 + expectedBody)
        if head.isInformational {
            // `100 Continue` and friends go to the client as they are; the final answer follows.
            guard exchange.downstreamVersion != .http1_0 else { return }
            ProxyHeaders.writeDownstreamResponse(head, version: exchange.downstreamVersion, keepAlive: true, decodedBody: false, to: &bytes)
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            return
        }
        exchange.tryDeadline?.cancel()
        exchange.tryDeadline = nil
        exchange.observe(.response(status: head.status))
        // A retriable answer is dropped and counted; the client sees only the last attempt's.
        if retry(exchange, after: .status(head.status), code: head.status, flags: .noFlag) { return }
        exchange.responseStarted = true
        exchange.responseCode = head.status
        // An HTTP/1.0 client cannot read chunks: it gets the data, and the end of the body is the close.
        let decoded = exchange.downstreamVersion == .http1_0 && head.fields.contains(.transferEncoding)
        connection.decodesChunks = decoded
        if decoded || connection.responseEndsWithClose { exchange.closesClient = true }
        let keepAlive = exchange.keepsClientAlive && !loop.draining
        if let operations = exchange.route.policy.headers?.response, !operations.isEmpty {
            var response = head
            RouteActions.apply(operations, to: &response.fields)
            ProxyHeaders.writeDownstreamResponse(response, version: exchange.downstreamVersion, keepAlive: keepAlive, decodedBody: decoded, to: &bytes)
        } else {
            ProxyHeaders.writeDownstreamResponse(head, version: exchange.downstreamVersion, keepAlive: keepAlive, decodedBody: decoded, to: &bytes)
        }
        // Held until the first body bytes, which usually came in the same read: one buffer, one write.
        heldHead = bytes
        responseHeadBuffer = nil
        unflushedToClient = true
    }

    func upstream(_ connection: UpstreamConnection, receivedBody bytes: ByteBuffer, dataBytes: Int) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection, exchange.responseStarted else {
            return
        }
        exchange.responseBytes += dataBytes
        // Flushed when the upstream read completes: one write system call per read, not per part.
        if var head = heldHead, bytes.readableBytes <= Self.coalescedBodyBytes {
            heldHead = nil
            head.writeImmutableBuffer(bytes)
            context.write(wrapOutboundOut(head), promise: nil)
            responseHeadBuffer = head
        } else {
            writeHeldHead(context: context)
            context.write(wrapOutboundOut(bytes), promise: nil)
        }
        unflushedToClient = true
    }

    /// Body bytes up to this size are copied behind the response head rather than written apart.
    private static let coalescedBodyBytes = 4096

    private func writeHeldHead(context: ChannelHandlerContext) {
        guard let head = heldHead else { return }
        heldHead = nil
        context.write(wrapOutboundOut(head), promise: nil)
        responseHeadBuffer = head
    }

    /// A buffer for the next head: the last head's memory once the socket has taken its bytes (nothing else
    /// holds it then, so clearing it allocates nothing), else a new one.
    private func reuse(_ slot: inout ByteBuffer?, capacity: Int) -> ByteBuffer {
        guard var buffer = slot.take() else {
            return context?.channel.allocator.buffer(capacity: capacity) ?? ByteBufferAllocator().buffer(capacity: capacity)
        }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    func upstreamEnded(_ connection: UpstreamConnection) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        exchange.cancelTimers()
        exchange.upstream = nil
        if exchange.requestEnded {
            loop.pool.release(connection)
        } else {
            // The upstream answered before the whole request arrived; the connection's framing is unknowable.
            connection.delegate = nil
            connection.close()
        }
        record(exchange, code: exchange.responseCode, flags: .noFlag)
        // Over before the answer's last bytes are flushed: a close that follows them (synchronously, when the
        // socket takes them at once) is the end of this exchange, not a client that went away mid-answer.
        state = .idle
        finishResponse(context: context, keepAlive: exchange.keepsClientAlive && exchange.requestEnded)
        becomeIdle()
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        guard let context, case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        exchange.upstream = nil
        if exchange.responseStarted {
            exchange.cancelTimers()
            // Part of the answer is out already: the only honest signal left is closing the client connection.
            record(exchange, code: exchange.responseCode, flags: .upstreamConnectionTermination)
            writeHeldHead(context: context)
            context.flush()
            closing = true
            state = .idle
            context.close(promise: nil)
            return
        }
        if let malformed = error as? MalformedMessage {
            // The upstream answered, but not in HTTP: a bad gateway, not an unavailable one.
            exchange.observe(.response(status: 502))
            if retry(exchange, after: .status(502), code: 502, flags: .upstreamProtocolError) { return }
            failBeforeResponse(
                exchange, status: .badGateway, flags: .upstreamProtocolError,
                reason: "upstream protocol error: \(exchange.endpointAddress) (\(exchange.target.cluster.host)) "
                    + "sent a malformed response: \(malformed.reason)"
            )
            return
        }
        // A pooled connection the server closed while idle fails before any response byte;
        // resending is safe as long as no body bytes went out.
        if connection.requestsServed > 1, !exchange.bodyForwarded, exchange.attempts < 3 {
            exchange.buffered = []
            connect(exchange)
            return
        }
        exchange.observe(.reset)
        if retry(exchange, after: .reset, code: 503, flags: .upstreamConnectionTermination) { return }
        failBeforeResponse(
            exchange, flags: .upstreamConnectionTermination,
            reason: "upstream connect error or disconnect/reset before headers: \(exchange.endpointAddress) "
                + "(\(exchange.target.cluster.host))" + (error.map { ": \($0)" } ?? "")
        )
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard unflushedToClient, let context else { return }
        unflushedToClient = false
        writeHeldHead(context: context)
        context.flush()
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard connection.isWritable, pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
