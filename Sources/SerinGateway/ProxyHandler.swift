import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import SerinCore

/// Proxies the requests of one client connection: reads each request head from the bytes the client
/// sends, routes it, forwards it and its body to a pooled upstream connection and streams the answer back,
/// with backpressure in both directions. Bodies pass through as they came (chunked framing included);
/// only heads are parsed and rewritten.
///
/// A thin executor over `ProxyStateMachine`: it turns what happens on its sockets and timers into the
/// machine's events and runs the action each returns; the machine decides, the handler does the IO.
/// Runs on the client channel's event loop; its upstream connections live on the same loop.
final class ProxyHandler: ChannelDuplexHandler, LoopConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Action = ProxyStateMachine.Action

    let routes: RouteTableBox
    let clusters: UpstreamClusters
    let telemetry: GatewayTelemetry
    let loop: LoopContext
    let limits: GatewayLimits
    let deadlines: ConnectionDeadlines
    /// The port as the Gateway declares it, before `--port-offset`; unused on the mesh listener.
    let declaredPort: Int
    /// On the `--mesh` listener: requests route as a sidecar routes them, by the port their authority names.
    let inMesh: Bool
    /// The client's connection is TLS, terminated before this handler: upstream requests say `x-forwarded-proto: https`.
    let overTLS: Bool
    /// The server the connection's handshake chose, set before its first request: only servers that verify clients as
    /// it does admit its requests (`RouteTable.resolve(_:port:handshake:)`).
    var handshake: RouteTable.ServerBinding? {
        didSet { routeMemo = nil }
    }
    /// The `x-forwarded-client-cert` the connection's verified client certificate gives its requests
    /// (`ClientCertificateDetails`); nil without one.
    var clientCertificate: String?
    /// Serves one HTTP/2 stream behind an `HTTP2ServerStream`: a protocol switch there is an extended CONNECT, answered
    /// and counted as `200`, as Envoy counts the HTTP/2 side's status.
    let servesHTTP2Stream: Bool
    /// The stream's request is a gRPC call: the gateway's own error answers to it are gRPC statuses
    /// (`GRPCLocalAnswer`), not HTTP ones.
    var answersInGRPC = false
    /// The request is gRPC-Web on a `GRPC-WEB` server (`GRPCWebTranslation`): the content type of the gateway's own
    /// answers to it, which are gRPC statuses too (`answersInGRPC`). Nil for any other request.
    var grpcWebAnswer: String?
    var random: FastRandom
    /// The round-robin turn of the request under way (the loop's, `LoopContext.nextEndpointTurn`); a retry takes
    /// the next one, so it goes to the next endpoint.
    var endpointTurn = 0
    var machine: ProxyStateMachine
    /// The IO side of the exchange under way (connection, timers, buffers); nil whenever the machine is not proxying.
    var exchange: ProxyExchange?
    /// What is left to read of the current request's body; nil between requests (the next bytes start one).
    var body: BodyReader?
    var client: ClientSide?
    var pendingRead = false
    var clientAddress: String?
    /// The address the upstream request's `x-forwarded-for` is extended with: the client's at a gateway, none at the
    /// mesh listener, as Istio's sidecars leave the field as the client sent it (outbound `use_remote_address: false`).
    var forwardedFor: String? { inMesh ? nil : clientAddress }
    /// The client connection's two ends, which a cluster's `proxyProtocol` header names.
    var ends: ConnectionEnds?
    /// This client's number in the loop's upstream pool, once a request of it went upstream with a PROXY header: the
    /// connections that began with its header are kept for it under this number.
    private var proxiedClient: UInt64?
    /// Bytes received and not yet handled: part of a head, or requests pipelined behind the one being
    /// answered (HTTP/1.1 pipelining), which wait their turn so responses go out in request order.
    var inbound: ByteBuffer?
    /// Where the next request head ends, searched for as its bytes arrive.
    private var headEnd = HeadEndSearch()
    private var processing = false
    /// Whether response bytes were written to the client since the last flush.
    var unflushedToClient = false
    /// A response head not written yet: the body's first bytes join it.
    var heldHead: ByteBuffer?
    /// The last heads written each way, whose memory the next ones reuse (see `reuse`).
    var upstreamHeadBuffer: ByteBuffer?
    var responseHeadBuffer: ByteBuffer?
    /// Routing reads the request's fields through this one object per connection: no box per request.
    let headerLookup = HeaderLookup()
    /// The last request's `host`, kept for the next request on the connection, which mostly names the same.
    var lastAuthority = ""
    /// The last route resolved on this connection, for the next request with the same method, target and host on the
    /// same table (most of a keep-alive connection's): kept only where no route of its listener reads a header, so
    /// nothing else of the request could route it elsewhere.
    var routeMemo: RouteMemo?
    /// Fields the answer to the request under way carries besides its own: the `access-control-*` fields of its
    /// route's `corsPolicy`, a consistent-hash cookie the gateway made. Set by routing, taken by the answer's head
    /// (the service's or the gateway's own).
    var answerFields: [AnswerField] = []
    /// The last request head's field list, which the next head's fields fill.
    private var recycledFields = HeaderFields.Recycled()
    /// Whether a request head was read on this connection: only its first bytes may be an HTTP/2 preface.
    private var sawRequestHead = false
    /// TLS's ALPN chose HTTP/1.1: the connection speaks it, and an HTTP/2 preface is a malformed request, as
    /// Envoy's codec, chosen by ALPN, takes it (RFC 9113 §3.2: prior knowledge is for cleartext).
    private var negotiatedHTTP1 = false
    /// The series this connection's requests were last counted in.
    private var seriesMemo = SeriesMemo()

    init(
        routes: RouteTableBox, clusters: UpstreamClusters, telemetry: GatewayTelemetry, loop: LoopContext,
        declaredPort: Int, inMesh: Bool = false, overTLS: Bool = false, servesHTTP2Stream: Bool = false, limits: GatewayLimits,
        deadlines: ConnectionDeadlines, random: FastRandom = FastRandom()
    ) {
        // One seed from the system per connection (a `getrandom` call); the machine's generator is seeded from it.
        var random = random
        self.machine = ProxyStateMachine(random: FastRandom(seed: random.next()))
        self.random = random
        self.inMesh = inMesh
        self.servesHTTP2Stream = servesHTTP2Stream
        self.overTLS = overTLS
        self.routes = routes
        self.clusters = clusters
        self.telemetry = telemetry
        self.loop = loop
        self.declaredPort = declaredPort
        self.limits = limits
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) {
        clientAddress = context.channel.remoteAddress?.ipAddress
        ends = ConnectionEnds(context.channel)
        join(loop, client: .connection(context))
    }

    /// An HTTP/2 stream's proxy starts serving it. Its connection, not the loop, keeps it: the connection sweeps
    /// its clocks, and a drain or close reaches it through the connection.
    func serve(_ stream: HTTP2ServerStream, clientAddress: String?, ends: ConnectionEnds?) {
        self.clientAddress = clientAddress
        self.ends = ends
        client = .stream(stream)
        deadlines.attach(client)
    }

    /// The stream it served closed.
    func streamEnded() {
        deadlines.attach(nil)
        client = nil
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leave(loop)
    }

    /// A drain began: the connection closes after its next answer, or once quiet for the drain's grace.
    func drainBegan() {
        deadlines.drainBegan()
    }

    /// A connection between requests closes now; one mid-exchange closes after its response.
    func closeIfIdle() {
        if machine.isIdle { client?.close() }
    }

    // MARK: Client → upstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    /// Bytes from the client: its connection's, or those an HTTP/2 stream's frames stand for.
    func received(_ bytes: ByteBuffer) {
        if machine.isTunnelling { return tunnel(bytes) }
        guard !machine.closing, !deadlines.isClosed else { return }
        deadlines.bytesArrived()
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeImmutableBuffer(bytes)
        }
        processInbound()
    }

    /// Handles the bytes received so far: body bytes of the current request, or, once the machine lets the
    /// next request start, its head. Stops at an incomplete head or a request that must wait its turn.
    private func processInbound() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !machine.closing, var buffer = inbound, buffer.readableBytes > 0 {
            inbound = nil
            if var reader = body {
                let part: (bytes: ByteBuffer, dataBytes: Int, ended: Bool)
                do {
                    // A client's trailer fields are dropped, as Envoy drops them on HTTP/1 (`enable_trailers` off, as Istio
                    // leaves it), and those of an HTTP/2 stream's request too (gRPC clients send none): none of them (a
                    // forged `x-forwarded-client-cert`, a second `content-length`) reaches a backend.
                    part = try reader.read(from: &buffer, droppingTrailers: true)
                } catch {
                    return reject(error, machine.malformedBody())
                }
                body = part.ended ? nil : reader
                keep(buffer)
                requestBody(part.bytes, dataBytes: part.dataBytes)
                if part.ended { endRequest(machine.requestEnded(), for: exchange) }
                continue
            }
            guard machine.mayStartRequest else {
                keep(buffer)
                return
            }
            let blank = buffer.withUnsafeReadableBytes { HTTP1HeadParser.leadingEmptyLines($0) }
            buffer.moveReaderIndex(forwardBy: blank)
            guard let end = headEnd.find(in: buffer) else {
                if let tooLarge = buffer.withUnsafeReadableBytes({ HTTP1HeadParser.incompleteHeadTooLarge($0, limits: limits) }) {
                    return reject(tooLarge, machine.malformedHead())
                }
                keep(buffer)
                return
            }
            let headBytes = buffer.readSlice(length: end)!
            keep(buffer)
            var head: RequestHead
            let framing: BodyFraming
            do {
                head = try HTTP1HeadParser.parseRequest(
                    headBytes, limits: limits, reusing: &recycledFields, tunnels: inMesh && !servesHTTP2Stream, checkedHost: lastAuthority
                )
                framing = try BodyFraming.ofRequest(head)
            } catch {
                if !sawRequestHead, !negotiatedHTTP1, HTTP2Connection.beginsWithPreface(headBytes) {
                    return switchToHTTP2(receivedFirst: headBytes)
                }
                return reject(error, machine.malformedHead(), version: HTTP1HeadParser.answerVersion(forRefused: headBytes))
            }
            // Only the mesh's listener parses a CONNECT: a tunnel that carries requests starts over, its first bytes
            // maybe HTTP/2's preface; any other leaves this handler.
            if inMesh, head.method == "CONNECT" {
                head.fields.recycle(into: &recycledFields)
                guard openTunnel(head, hasBody: framing.hasBody) else { return }
                sawRequestHead = false
                continue
            }
            sawRequestHead = true
            body = BodyReader(framing)
            begin(&head, hasBody: framing.hasBody)
            head.fields.recycle(into: &recycledFields)
            if body == nil { endRequest(machine.requestEnded(), for: exchange) }
        }
    }

    /// Runs the machine's answer to the request's end: the common one, `endRequest`, taken here, not through `run`,
    /// which would copy the whole action to ask which it is.
    private func endRequest(_ action: Action, for exchange: ProxyExchange?) {
        guard case .endRequest = action else { return run(action, for: exchange) }
        guard let exchange else { return }
        for mirror in exchange.mirrors { mirror.endRequest() }
        exchange.upstream?.flush()
    }

    /// The connection's first bytes are HTTP/2's preface (h2c with prior knowledge): NIOHTTP2 takes the
    /// connection over from here, with what arrived so far.
    private func switchToHTTP2(receivedFirst head: ByteBuffer) {
        var bytes = head
        if let rest = inbound { bytes.writeImmutableBuffer(rest) }
        inbound = nil
        guard case .connection(let context)? = client else { return }
        HTTP2Connection.serve(on: context, replacing: self, replaying: bytes)
    }

    /// The client half-closed (a tunnel passes it on), or TLS finished its handshake: the handshake's deadline
    /// ends, and when ALPN chose HTTP/2, NIOHTTP2 takes the connection over before its first byte.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            clientFinishedSending()
        } else if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            deadlines.handshakeCompleted()
            if handshake?.tls?.mode.verifiesClients == true,
                let peer = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
            {
                clientCertificate = ClientCertificateDetails.header(for: peer)
            }
            context.fireUserInboundEventTriggered(event)
            if negotiated == "h2", !sawRequestHead { HTTP2Connection.serve(on: context, replacing: self, replaying: nil) }
            negotiatedHTTP1 = negotiated == "http/1.1"
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The client ended its side of a tunnel.
    func clientFinishedSending() {
        run(machine.tunnelSideFinished(fromClient: true), for: exchange)
    }

    /// Puts back what is left of `buffer` for later.
    private func keep(_ buffer: ByteBuffer) {
        inbound = buffer.readableBytes > 0 ? buffer : nil
    }

    /// Body bytes as they came (chunk framing included), of which `dataBytes` are the body itself: what
    /// `istio_request_bytes` counts. Kept for a possible retry, copied to the mirror, sent upstream.
    private func requestBody(_ bytes: ByteBuffer, dataBytes: Int) {
        guard case .forwardBody(let toUpstream, let replay) = machine.requestBody(bytes: bytes.readableBytes), let exchange else {
            return
        }
        exchange.requestBytes += dataBytes
        switch replay {
        case .keep: exchange.replay.append(bytes)
        case .drop: exchange.replay.removeAll()
        case .none: break
        }
        for mirror in exchange.mirrors { mirror.send(body: bytes) }
        if toUpstream, let upstream = exchange.upstream {
            upstream.write(bytes)
        } else {
            exchange.buffered.append(bytes)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.flush()
        context.fireChannelReadComplete()
    }

    /// What the client sent in this read has all been handled: it goes upstream in one write.
    func clientReadComplete() {
        exchange?.upstream?.flush()
    }

    // MARK: Running the machine's actions

    /// Runs what the machine decided for `exchange`, the one under way (or for the connection, when none is).
    /// Actions that need an event's own data (a response head, a parse error) run where that event arrives.
    /// The caller hands over the exchange it holds: reading `self.exchange` again would cost a retain per action.
    /// The machine's decision on an attempt's outcome, given the retry policy the cluster's retry limit leaves the
    /// request. When the limit held the route's policy back, the same decision is taken first on a copy of the machine
    /// with the policy: had that retried, the cluster counts a retry overflow (Envoy's `upstream_rq_retry_overflow`).
    func decide(_ exchange: ProxyExchange, _ decision: (inout ProxyStateMachine, HTTPRetry?) -> Action) -> Action {
        let retries = exchange.retryPolicy
        if let withheld = retries.withheld, let cluster = exchange.cluster {
            var whatIf = machine
            if case .retry = decision(&whatIf, withheld) { cluster.retryOverflowed() }
        }
        return decision(&machine, retries.granted)
    }

    func run(_ action: Action, for exchange: ProxyExchange?, error: (any Error)? = nil) {
        switch action {
        case .none, .route, .answerLocally, .forwardBody, .discardBody, .passInformational, .startResponse, .reject, .close,
            .startTunnel:
            break
        case .finishSending(let toUpstream):
            finishSending(toUpstream: toUpstream)
        case .endTunnel:
            endTunnel()
        case .becomeIdle:
            becomeIdle()
        case .endRequest:
            endRequest(action, for: exchange)
        case .waitInjectedDelay:
            guard let exchange, let delay = exchange.route.policy.fault?.delay else { return }
            pause(exchange, for: delay.fixedDelay) { $0.delayElapsed(exchange) }
        case .connect:
            if let exchange { connect(exchange) }
        case .reconnect(let replayingBody):
            guard let exchange else { return }
            loop.health.resentOnNewConnection()
            // Body bytes still held (the stream was never opened) go out on the new connection, behind the head; those
            // that went out already go again from the copy kept for retries, which holds every byte received.
            if replayingBody { exchange.buffered = exchange.replay }
            connect(exchange)
        case .sendRequest:
            if let exchange, let connection = exchange.upstream { sendRequest(exchange, on: connection) }
        case .retry(let trigger, let code, let flag, let backoff):
            if let exchange { retry(exchange, after: trigger, code: code, flag: flag, backoff: backoff) }
        case .fail(let failure, let keepAlive):
            if let exchange { fail(exchange, failure, keepAlive: keepAlive, error: error) }
        case .finishResponse(let code, let flag, let keepAlive, let reuseUpstream):
            if let exchange, let connection = exchange.upstream {
                finish(exchange, from: connection, code: code, flag: flag, keepAlive: keepAlive, reuseUpstream: reuseUpstream)
            }
        case .cutResponse(let code, let flag):
            guard let exchange else { return }
            if exchange.grpcStatus == nil { exchange.grpcStatus = inferredGRPCStatus(code) }
            endExchange(exchange)
            record(exchange, code: code, flag: flag)
            if let client {
                writeHeldHead(client)
                client.flush()
                client.close()
            }
        case .abandon(let code, let flag):
            guard let exchange else { return }
            // The client left mid-exchange: the upstream connection is in an unknown state.
            endExchange(exchange)
            record(exchange, code: code, flag: flag)
        }
    }

    /// The answer's last bytes came from `connection`: it goes back to the pool or is closed, the request is
    /// counted, and the client connection is kept or closed.
    func finish(
        _ exchange: ProxyExchange, from connection: UpstreamConnection, code: Int, flag: ResponseFlag, keepAlive: Bool,
        reuseUpstream: Bool
    ) {
        exchange.upstream = nil
        // Only an HTTP/2 answer's trailers are read for `grpc-status`: one without it is inferred; an HTTP/1 upstream's
        // (gRPC-Web) is not read, so it is not inferred either.
        exchange.grpcStatus = connection.http2Stream.map { $0.grpcStatus ?? inferredGRPCStatus(code) } ?? nil
        endExchange(exchange)
        if reuseUpstream { loop.pool.release(connection) } else { close(connection) }
        record(exchange, code: code, flag: flag)
        // Over before the answer's last bytes are flushed: a close that follows them (synchronously, when the
        // socket takes them at once) is the end of this exchange, not a client that went away mid-answer.
        if let client { finishResponse(client, keepAlive: keepAlive) }
        becomeIdle()
    }

    /// The exchange under way is over: its timers stop, its connection (if it still has one) closes, and the
    /// handler forgets it.
    private func endExchange(_ exchange: ProxyExchange) {
        exchange.cancelTimers()
        exchange.finishRequest()
        if let upstream = exchange.upstream { close(upstream) }
        exchange.upstream = nil
        self.exchange = nil
    }

    /// Closes an upstream connection whose state is unknown, so no later callback reaches this handler.
    private func close(_ connection: UpstreamConnection) {
        connection.delegate = nil
        connection.close()
    }

    func connect(_ exchange: ProxyExchange) {
        if let overflow = exchange.admit() { return connected(exchange, .failure(overflow)) }
        let pool = loop.pool
        let endpoint = exchange.endpointAddress
        // Under `useClientProtocol` a WebSocket from an HTTP/2 client still goes upstream as an HTTP/1 upgrade: an
        // upstream HTTP/2 stream cannot carry its `Upgrade`.
        // Only a cluster with `proxyProtocol` reads the client's ends: the common request copies no address.
        let proxyHeader = exchange.cluster?.policy.proxyProtocol.flatMap { ends?.proxyHeader($0) }
        if exchange.target.cluster.upstreamHTTP2(downstreamHTTP2: servesHTTP2Stream && exchange.upgrade == nil) {
            return loop.http2.lease(endpoint, cluster: exchange.cluster, serverHost: exchange.serverHost, proxyHeader: proxyHeader) { result in
                self.connected(exchange, result)
            }
        }
        let serverHost = exchange.serverHost
        // A connection that began with this client's PROXY header serves its later requests, as Envoy pools them per
        // downstream connection; never another client's.
        let client = proxyHeader == nil ? nil : proxiedClientNumber()
        if let idle = pool.takeIdle(endpoint, cluster: exchange.cluster, serverHost: serverHost, client: client) {
            connected(exchange, .success(idle))
            return
        }
        let waiting = pool.lease(endpoint, cluster: exchange.cluster, serverHost: serverHost, proxyHeader: proxyHeader, client: client) { result in
            self.connected(exchange, result)
        }
        if let waiting { exchange.waiting = (waiting, pool) }
    }

    private func connected(_ exchange: ProxyExchange, _ result: Result<UpstreamConnection, any Error>) {
        exchange.waiting = nil
        guard self.exchange === exchange else {
            if case .success(let connection) = result { loop.pool.release(connection) }
            return
        }
        switch result {
        case .failure(let error):
            let action = decide(exchange) {
                $0.upstreamFailed(overflow: error is UpstreamOverflow, retries: $1, refused: (error as? UpstreamStreamRefused)?.refusal)
            }
            run(action, for: exchange, error: error)
        case .success(let connection):
            connection.delegate = self
            connection.requestsServed += 1
            exchange.upstream = connection
            // Sent with the connection in hand rather than read back from the exchange.
            let action = machine.upstreamConnected()
            if case .sendRequest = action { sendRequest(exchange, on: connection) } else { run(action, for: exchange) }
        }
    }

    /// The head, and the body received so far, go out on the connection just made.
    private func sendRequest(_ exchange: ProxyExchange, on connection: UpstreamConnection) {
        if let perTry = exchange.route.policy.retries?.perTryTimeout {
            exchange.tryDeadline = schedule(after: perTry, for: exchange) { handler in
                exchange.tryDeadline = nil
                handler.run(handler.decide(exchange) { $0.tryTimedOut(retries: $1) }, for: exchange)
            }
        }
        if grpcWebAnswer != nil { connection.http2Stream?.translatesGRPCWeb = true }
        connection.send(head: exchange.upstreamHead, isHEAD: exchange.isHEAD, upgrade: exchange.upgrade != nil)
        let buffered = exchange.buffered
        exchange.buffered = []
        for part in buffered { connection.write(part) }
        connection.flush()
    }

    /// The route's `timeout` passed.
    func timedOut(_ exchange: ProxyExchange) {
        guard self.exchange === exchange else { return }
        exchange.deadline = nil
        run(machine.timedOut(), for: exchange)
    }

    /// Another attempt: the failed one is counted as the destination saw it (a stream the server refused as it went
    /// away, its normal way of ending a connection, is not), its connection dropped, and the request sent again to the
    /// next endpoint after `backoff`, with the body kept for it.
    private func retry(_ exchange: ProxyExchange, after trigger: ProxyStateMachine.RetryTrigger, code: Int, flag: ResponseFlag, backoff: Duration) {
        if let outcome = trigger.outlierOutcome { exchange.observe(outcome) }
        exchange.retryStarted()
        var code = code
        var reachedDestination = true
        switch trigger {
        case .grpcStatus(let status):
            exchange.grpcStatus = String(status)
        case .status:
            break
        case .refusedStream:
            reachedDestination = false
        case .connectFailure, .reset, .perTryTimeout:
            // No answer came: the try is counted as the gateway would have answered it.
            (code, exchange.grpcStatus) = localAnswerCounted(code)
        }
        if reachedDestination { record(exchange, code: code, flag: flag) }
        exchange.grpcStatus = nil
        if let upstream = exchange.upstream { close(upstream) }
        exchange.upstream = nil
        exchange.tryDeadline?.cancel()
        exchange.tryDeadline = nil
        exchange.buffered = exchange.replay
        exchange.nextAttempt()
        if let next = retryEndpoint(of: exchange) { exchange.move(toEndpoint: next) }
        pause(exchange, for: backoff) { $0.machine.backoffElapsed() }
    }

    /// No answer started and none will come: the gateway answers with the failure's status.
    private func fail(_ exchange: ProxyExchange, _ failure: ProxyStateMachine.UpstreamFailure, keepAlive: Bool, error: (any Error)?) {
        if let outcome = failure.outlierOutcome { exchange.observe(outcome) }
        let text = reason(for: failure, of: exchange, error: error) + "\n"
        endExchange(exchange)
        // Counted before the answer goes out, so whoever reads the answer also sees it counted.
        var grpcStatus: Int?
        if case .faultAbort(let abort) = failure { grpcStatus = abort.grpcStatus }
        if case .timeout = failure, exchange.clientDeadline, answersInGRPC { grpcStatus = GRPCLocalAnswer.deadlineExceeded }
        let counted = localAnswerCounted(failure.status, grpcStatus: grpcStatus)
        if let grpcStatus = counted.grpcStatus { exchange.grpcStatus = grpcStatus }
        record(exchange, code: counted.code, flag: failure.flag)
        writeLocalResponse(
            HTTPResponseStatus(statusCode: failure.status), body: Array(text.utf8), contentType: Self.plainText,
            version: exchange.downstreamVersion, keepAlive: keepAlive, grpcStatus: grpcStatus
        )
        if machine.isIdle { becomeIdle() }
    }

    private func reason(for failure: ProxyStateMachine.UpstreamFailure, of exchange: ProxyExchange, error: (any Error)?) -> String {
        let host = exchange.target.cluster.host
        // A Gateway's clients are outside: they read the service, not the address of the pod behind it (the mesh's
        // callers, inside, get both).
        let upstream = inMesh ? "\(exchange.endpointAddress) (\(host))" : host
        switch failure {
        case .overflow:
            return error.map { "\($0)" } ?? "upstream overflow: \(upstream)"
        case .connectFailure:
            return "upstream connect error: \(upstream)" + (error.map { ": \(UpstreamErrorText.describe($0))" } ?? "")
        case .reset:
            return "upstream connect error or disconnect/reset before headers: \(upstream)" + (error.map { ": \(UpstreamErrorText.describe($0))" } ?? "")
        case .protocolError:
            // Without a parse error, the answer was a well-formed 101 to a request that had not asked to switch.
            let why = (error as? MalformedMessage)?.reason ?? "101 Switching Protocols to a request that did not ask to switch"
            return "upstream protocol error: \(upstream) sent a malformed response: \(why)"
        case .timeout:
            let limit = exchange.timeout.map(Self.describe) ?? "the route's timeout"
            let whose = exchange.timeout != nil && exchange.timeout != exchange.route.policy.timeout ? " (the request's grpc-timeout)" : ""
            return "upstream request timeout: \(host) did not answer within \(limit)\(whose)"
        case .perTryTimeout:
            let limit = exchange.route.policy.retries?.perTryTimeout.map(Self.describe) ?? "the per-try timeout"
            return "upstream request timeout: \(upstream) did not answer within \(limit)"
        case .faultAbort:
            return Self.faultAbortText
        case .badRequest:
            return "bad request: " + ((error as? MalformedGRPCWebBody)?.reason ?? "its body could not be sent")
        }
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// Waits `delay` before the exchange's next attempt (a fault's delay, a retry's backoff), then runs the step
    /// `next` takes; the exchange holds the wait, so its end cancels it.
    private func pause(_ exchange: ProxyExchange, for delay: Duration, then next: @escaping (ProxyHandler) -> Action) {
        exchange.pause = schedule(after: delay, for: exchange) { handler in
            exchange.pause = nil
            handler.run(next(handler), for: exchange)
        }
    }

    /// Runs `body` on this loop after `delay`, if `exchange` is still the one under way by then.
    /// The task holds the handler until it runs or is cancelled, so the exchange keeps it and cancels it when it
    /// ends (`ProxyExchange.cancelTimers`): a client gone during a long fault delay frees its handler at once.
    /// Captured strongly, since a weak capture would put every request of the connection on the slow path of
    /// reference counting (see `UpstreamConnection.delegate`).
    func schedule(after delay: Duration, for exchange: ProxyExchange, _ body: @escaping (ProxyHandler) -> Void) -> Scheduled<Void> {
        return loop.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
            guard self.exchange === exchange else { return }
            body(self)
        }
    }

    // MARK: Backpressure

    /// The exchange is over: requests that waited their turn start, and a held read resumes.
    private func becomeIdle() {
        deadlines.exchangeEnded()
        guard !machine.closing else { return }
        processInbound()
        exchange?.upstream?.flush()
        resumeHeldRead()
    }

    func resumeHeldRead() {
        guard pendingRead, !holdsReads, let client else { return }
        pendingRead = false
        client.read()
    }

    private var holdsReads: Bool {
        machine.holdsReads(pipelinedBytesWaiting: inbound != nil, upstreamWritable: exchange?.upstream?.isWritable ?? true)
    }

    func read(context: ChannelHandlerContext) {
        if mayRead() { context.read() }
    }

    /// Whether the client may send more now; if not, its read is held until the proxy can take more.
    func mayRead() -> Bool {
        if holdsReads {
            pendingRead = true
            return false
        }
        return true
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    /// The client end can take more (or no more) of the answer.
    func clientWritabilityChanged() {
        if client?.isWritable ?? false { exchange?.upstream?.resumeReading() }
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard connection.isWritable, pendingRead, let client else { return }
        pendingRead = false
        client.read()
    }

    // MARK: Endings

    func channelInactive(context: ChannelHandlerContext) {
        clientClosed()
        context.fireChannelInactive()
    }

    /// The client's connection (or stream) closed.
    func clientClosed(reset: Bool = false) {
        run(machine.clientClosed(reset: reset), for: exchange)
        inbound = nil
        deadlines.connectionClosed()
        if let proxiedClient { loop.pool.closeIdle(boundTo: proxiedClient) }
    }

    /// This client's number in the loop's pool, given at its first request that goes upstream with a PROXY header.
    private func proxiedClientNumber() -> UInt64 {
        if let proxiedClient { return proxiedClient }
        let number = loop.pool.clientNumber()
        proxiedClient = number
        return number
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Before the handshake ends, every error is TLS's: counted, as the connection leaves no other trace.
        if deadlines.isHandshaking { loop.health.tlsHandshakeFailed() }
        context.close(promise: nil)
    }

    /// A request the gateway will not forward (malformed, or over the limits): answered, then closed; a
    /// request whose answer already started is cut instead. An exchange under way is dropped uncounted: the
    /// upstream has part of a request it must never complete.
    private func reject(_ error: MalformedMessage, _ action: Action, version: HTTPVersion = .http1_1) {
        inbound = nil
        switch action {
        case .reject(let abandonExchange):
            if abandonExchange, let exchange { abandonSilently(exchange) }
            let counted = localAnswerCounted(Int(error.status.code))
            telemetry.record(
                TrafficKey(
                    destinationService: "unknown", responseCode: counted.code, responseFlags: .downstreamProtocolError,
                    grpcStatus: counted.grpcStatus
                ),
                milliseconds: 0, requestBytes: 0, responseBytes: 0, shard: loop.shard
            )
            writeLocalResponse(
                error.status, body: Array((error.reason + "\n").utf8), contentType: Self.plainText, version: version, keepAlive: false
            )
        case .close(let abandonExchange):
            if abandonExchange, let exchange { abandonSilently(exchange) }
            client?.close()
        default:
            break
        }
    }

    private func abandonSilently(_ exchange: ProxyExchange) {
        exchange.mirrors = []
        endExchange(exchange)
    }

    static let plainText = "text/plain; charset=utf-8"

    func writeLocalResponse(
        _ status: HTTPResponseStatus, body: [UInt8], contentType: String?, extraHeaders: [(String, String)] = [],
        version: HTTPVersion, keepAlive: Bool, grpcStatus: Int? = nil
    ) {
        guard let client else { return }
        let keepAlive = keepAlive && !loop.draining
        var fields = HeaderFields()
        var status = status
        var body = body
        if answersInGRPC && (status.code >= 400 || grpcStatus != nil) {
            // Trailers-only: headers that end the stream carry the status, and nothing else follows.
            fields.add(name: "content-type", value: grpcWebAnswer ?? "application/grpc")
            fields.add(name: "grpc-status", value: String(grpcStatus ?? GRPCLocalAnswer.status(forHTTP: Int(status.code))))
            fields.add(name: "grpc-message", value: GRPCLocalAnswer.message(String(decoding: body, as: UTF8.self)))
            // A gRPC-Web client reads the HTTP status too: it stays, as Envoy's grpc_web filter leaves it (a fault's
            // gRPC status is answered over 200 either way).
            if grpcWebAnswer == nil || grpcStatus != nil { status = .ok }
            body = []
        } else if let contentType {
            fields.add(name: "content-type", value: contentType)
        }
        fields.add(name: "content-length", value: String(body.count))
        fields.add(name: "server", value: "serin")
        for (name, value) in extraHeaders { fields.add(name: name, value: value) }
        if !answerFields.isEmpty {
            for field in answerFields { fields.add(name: field.name, value: field.value) }
            answerFields = []
        }
        let head = ResponseHead(version: version, status: Int(status.code), reason: status.reasonPhrase, fields: fields, isKeepAlive: keepAlive)
        if case .stream(let stream) = client {
            stream.respond(head)
            stream.write(client.allocator.buffer(bytes: body))
            return finishResponse(client, keepAlive: keepAlive)
        }
        var bytes = client.allocator.buffer(capacity: 128 + body.count)
        ProxyHeaders.writeDownstreamResponse(head, version: version, keepAlive: keepAlive, decodedBody: false, to: &bytes)
        bytes.writeBytes(body)
        client.write(bytes)
        finishResponse(client, keepAlive: keepAlive)
    }

    /// A gRPC call's status when its answer carried none (cut short, or a server that never sent `grpc-status`), as
    /// Envoy infers it from the HTTP status for Istio's `grpc_response_status`: 200 is UNKNOWN (2), 503 UNAVAILABLE
    /// (14)... So a server that dies mid-stream counts as a failure, not as a success with no status. Nil for a call
    /// that is not gRPC.
    func inferredGRPCStatus(_ code: Int) -> String? {
        answersInGRPC ? String(GRPCLocalAnswer.status(forHTTP: code)) : nil
    }

    /// How the gateway's own answer with `status` is counted: as sent, so a gRPC call's error is HTTP 200 with its
    /// gRPC status, as Istio labels it (`response_code="200"`, `grpc_response_status="14"`); a gRPC-Web call's keeps
    /// its HTTP status beside the gRPC one (`503`, `14`).
    func localAnswerCounted(_ status: Int, grpcStatus: Int? = nil) -> (code: Int, grpcStatus: String?) {
        guard answersInGRPC else { return (status, nil) }
        if let grpcStatus { return (200, String(grpcStatus)) }
        guard status >= 400 else { return (status, nil) }
        return (grpcWebAnswer == nil ? 200 : status, String(GRPCLocalAnswer.status(forHTTP: status)))
    }

    /// The response's last bytes are written: flushed, and the connection closed unless it is kept alive.
    func finishResponse(_ client: ClientSide, keepAlive: Bool) {
        unflushedToClient = false
        writeHeldHead(client)
        if keepAlive && !loop.draining {
            client.flush()
        } else {
            machine.closeStarted()
            inbound = nil
            client.closeAfterWrites()
        }
    }

    func record(_ exchange: ProxyExchange, code: Int, flag: ResponseFlag) {
        telemetry.record(
            RoutedSeries(target: exchange.target, endpoint: exchange.endpointIndex, code: code, flag: flag, grpcStatus: exchange.grpcStatus),
            milliseconds: Self.milliseconds(since: exchange.started), requestBytes: exchange.requestBytes,
            responseBytes: exchange.responseBytes, shard: loop.shard, memo: &seriesMemo
        ) { exchange.trafficKey(code: code, flag: flag) }
    }

    static func milliseconds(since start: NIODeadline) -> Double {
        Double((NIODeadline.now() - start).nanoseconds) / 1_000_000
    }
}
