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
    private let telemetry: GatewayTelemetry
    private let loop: LoopContext
    private let limits: GatewayLimits
    private let deadlines: ConnectionDeadlines
    /// The port as the Gateway declares it, before `--port-offset`.
    private let declaredPort: Int
    private var random = FastRandom()
    private var endpointTurn = 0
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var clientAddress: String?

    init(
        routes: RouteTableBox, telemetry: GatewayTelemetry, loop: LoopContext, declaredPort: Int,
        limits: GatewayLimits, deadlines: ConnectionDeadlines
    ) {
        self.routes = routes
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
        switch unwrapInboundIn(data) {
        case .head(let head):
            begin(head, context: context)
        case .body(let body):
            guard case .proxying(let exchange) = state else { return }
            exchange.requestBytes += body.readableBytes
            send(.body(.byteBuffer(body)), for: exchange)
        case .end(let trailers):
            switch state {
            case .proxying(let exchange):
                exchange.requestEnded = true
                send(.end(trailers), for: exchange)
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
        guard let endpoint = target.cluster.endpoint(forTurn: endpointTurn) else {
            let why =
                target.cluster.service == nil
                ? "\(target.cluster.host) does not resolve to a Service or ServiceEntry"
                : "\(target.cluster.host) has no endpoints (in embedded mode a ServiceEntry with STATIC endpoints says where it lives)"
            respondLocally(
                .serviceUnavailable, "no healthy upstream: \(why)\n", head: head, started: started,
                key: TrafficKey(
                    destinationService: target.cluster.host, subset: target.cluster.subset,
                    responseCode: 503, responseFlags: "UH"
                )
            )
            return
        }
        let exchange = ProxyExchange(
            upstreamHead: ProxyHeaders.upstreamRequest(head, clientAddress: clientAddress) { random.requestID() },
            downstreamVersion: head.version, keepAlive: head.isKeepAlive,
            target: target, endpoint: endpoint, started: started
        )
        state = .proxying(exchange)
        connect(exchange)
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
        loop.pool.lease(exchange.endpointAddress) { result in
            self.connected(exchange, result)
        }
    }

    private func connected(_ exchange: ProxyExchange, _ result: Result<UpstreamConnection, any Error>) {
        guard case .proxying(let current) = state, current === exchange, !exchange.abandoned else {
            if case .success(let connection) = result { loop.pool.release(connection) }
            return
        }
        switch result {
        case .failure(let error):
            failBeforeResponse(
                exchange, flags: "UF",
                reason: "upstream connect error: \(exchange.endpointAddress) (\(exchange.target.cluster.host)): \(error)"
            )
        case .success(let connection):
            connection.delegate = self
            connection.requestsServed += 1
            exchange.upstream = connection
            connection.write(.head(exchange.upstreamHead))
            let buffered = exchange.buffered
            exchange.buffered = []
            for part in buffered { send(part, for: exchange) }
            connection.flush()
        }
    }

    // MARK: Backpressure

    /// The exchange is over: a client read held back for a slow upstream must not outlive it.
    private func becomeIdle() {
        state = .idle
        deadlines.exchangeEnded()
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
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
            // The client left mid-exchange: the upstream connection is in an unknown state.
            exchange.upstream?.delegate = nil
            exchange.upstream?.close()
            record(exchange, code: exchange.responseStarted ? exchange.responseCode : 0, flags: "DC")
        }
        state = .idle
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
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
        state = .respondingLocally
        telemetry.record(
            key, milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: body.utf8.count,
            shard: loop.shard
        )
        // The request body, if any, is still coming: closing afterwards is simpler than draining it.
        let bodyExpected =
            head.headers.first(name: "content-length").map { $0 != "0" } ?? head.headers.contains(name: "transfer-encoding")
        writeLocalResponse(status, body, version: head.version, keepAlive: head.isKeepAlive && !bodyExpected && !closing)
    }

    private func writeLocalResponse(_ status: HTTPResponseStatus, _ body: String, version: HTTPVersion, keepAlive: Bool) {
        guard let context else { return }
        let keepAlive = keepAlive && !loop.draining
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "server", value: "serin")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
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
            exchange.responseStarted = true
            exchange.responseCode = Int(head.status.code)
            let response = ProxyHeaders.downstreamResponse(
                head, version: exchange.downstreamVersion, keepAlive: exchange.keepAlive && !loop.draining
            )
            context.write(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let body):
            exchange.responseBytes += body.readableBytes
            // Flushed when the upstream read completes: one write system call per read, not per part.
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        case .end:
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
            // Part of the answer is out already: the only honest signal left is closing the client connection.
            record(exchange, code: exchange.responseCode, flags: "UC")
            becomeIdle()
            context.close(promise: nil)
            return
        }
        if let parseError = error as? HTTPParserError {
            // The upstream answered, but not in HTTP: a bad gateway, not an unavailable one.
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
