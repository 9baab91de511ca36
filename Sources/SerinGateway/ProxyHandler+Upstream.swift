import NIOCore
import NIOHTTP1
import SerinCore

// MARK: Upstream → client

extension ProxyHandler: UpstreamDelegate {
    var downstreamIsWritable: Bool { client?.isWritable ?? false }

    func upstream(_ connection: UpstreamConnection, receivedHead head: ResponseHead) {
        guard let client, let exchange, exchange.upstream === connection else { return }
        let trailersOnlyGRPCStatus = connection.http2Stream?.trailersOnlyStatus
        // An answer that ends when the upstream closes reaches an HTTP/1.1 client chunked, its end the last chunk, so the
        // client's connection is kept, as Envoy frames it; an HTTP/1.0 client, or a stream, reads to the close.
        let chunks = connection.responseEndsWithClose && exchange.downstreamVersion == .http1_1 && !servesHTTP2Stream
        // Below the route's lowest retried status an answer is final: the policy is not copied out to say so.
        let mayRetry = trailersOnlyGRPCStatus != nil || head.status >= exchange.route.lowestRetriedStatus
        // A local function rather than a closure value: passed on only as a non-escaping argument, it captures nothing on
        // the heap, and the common answer, which cannot be retried, calls it directly.
        func decision(_ machine: inout ProxyStateMachine, _ retries: HTTPRetry?) -> Action {
            machine.responseHead(
                status: head.status, informational: head.isInformational, chunked: head.fields.contains(.transferEncoding),
                endsWithClose: connection.responseEndsWithClose && !chunks, retries: retries, trailersOnlyGRPCStatus: trailersOnlyGRPCStatus
            )
        }
        let action = mayRetry ? decide(exchange, decision) : decision(&machine, nil)
        var expectedBody = 0
        if case .value(let length) = head.fields.contentLength, length <= Self.coalescedBodyBytes { expectedBody = length }
        switch action {
        case .passInformational:
            // An HTTP/2 stream's answer has no interim heads to pass (its tunnel's switch is `startTunnel`).
            if case .stream = client { return }
            // A backend's own `100` after the gateway's (sent though the gateway removed the `expect`) says nothing new.
            if head.status == 100, exchange.continued { return }
            var bytes = reuse(&responseHeadBuffer, capacity: 384)
            ProxyHeaders.writeDownstreamResponse(head, version: exchange.downstreamVersion, keepAlive: true, decodedBody: false, to: &bytes)
            client.write(bytes)
            client.flush()
        case .startTunnel(let flag):
            startTunnel(exchange, on: connection, head: head, flag: flag, client: client)
        case .startResponse(let keepAlive, let decode):
            exchange.tryDeadline?.cancel()
            exchange.tryDeadline = nil
            exchange.observe(.response(status: head.status))
            connection.decodesChunks = decode
            exchange.chunksAnswer = chunks
            let keepAlive = keepAlive && !loop.draining
            // A copy only when a route edits the answer's fields (`edited ?? head` would copy every head).
            if let edited = editedResponse(head, exchange) {
                startResponse(edited, of: exchange, to: client, keepAlive: keepAlive, decode: decode, expectedBody: expectedBody)
            } else {
                startResponse(head, of: exchange, to: client, keepAlive: keepAlive, decode: decode, expectedBody: expectedBody)
            }
        default:
            // A retriable answer is dropped and counted; the client sees only the last attempt's.
            run(action, for: exchange)
        }
    }

    private func startResponse(
        _ head: ResponseHead, of exchange: ProxyExchange, to client: ClientSide, keepAlive: Bool, decode: Bool, expectedBody: Int
    ) {
        unflushedToClient = true
        if case .stream(let stream) = client {
            // The head goes to the stream as it is, not as HTTP/1 bytes the stream would read again.
            return stream.respond(head)
        }
        var bytes = reuse(&responseHeadBuffer, capacity: 384 + expectedBody)
        ProxyHeaders.writeDownstreamResponse(
            head, version: exchange.downstreamVersion, keepAlive: keepAlive, decodedBody: decode, chunked: exchange.chunksAnswer, to: &bytes
        )
        // Held until the first body bytes, which usually came in the same read: one buffer, one write.
        heldHead = bytes
    }

    func upstream(_ connection: UpstreamConnection, receivedBody received: ByteBuffer, dataBytes: Int) {
        guard let client, let exchange, exchange.upstream === connection, machine.responseStarted else {
            return
        }
        deadlines.trafficPassed()
        exchange.responseBytes += dataBytes
        var bytes = received
        if exchange.chunksAnswer, received.readableBytes > 0 {
            bytes = ByteBufferAllocator().buffer(capacity: received.readableBytes + 20)
            bytes.writeChunk(received)
        }
        // Flushed when the upstream read completes: one write system call per read, not per part.
        if var head = heldHead, bytes.readableBytes <= Self.coalescedBodyBytes {
            heldHead = nil
            head.writeImmutableBuffer(bytes)
            client.write(head)
            responseHeadBuffer = head
        } else {
            writeHeldHead(client)
            client.write(bytes)
        }
        unflushedToClient = true
    }

    /// `head` with the route's and the destination's `headers.response` edits applied, then `answerFields`; nil when
    /// there are none of either.
    private func editedResponse(_ head: ResponseHead, _ exchange: ProxyExchange) -> ResponseHead? {
        guard exchange.route.editsResponse || exchange.target.editsResponse || !answerFields.isEmpty else { return nil }
        let routeEdits = exchange.route.policy.headers?.response, targetEdits = exchange.target.headers?.response
        var response = head
        for operations in [routeEdits, targetEdits].compactMap({ $0 }) { RouteActions.apply(operations, to: &response.fields) }
        for field in answerFields {
            if field.replaces {
                response.fields.replaceOrAdd(name: field.name, value: field.value)
            } else {
                response.fields.add(name: field.name, value: field.value)
            }
        }
        answerFields = []
        return response
    }

    /// Body bytes up to this size are copied behind the response head rather than written apart.
    private static let coalescedBodyBytes = 4096

    func writeHeldHead(_ client: ClientSide) {
        guard let head = heldHead else { return }
        heldHead = nil
        client.write(head)
        responseHeadBuffer = head
    }

    func upstreamEnded(_ connection: UpstreamConnection) {
        guard let exchange, exchange.upstream === connection else { return }
        let action = machine.upstreamEnded()
        if exchange.chunksAnswer, case .finishResponse = action, let client {
            // The upstream's close ended the body: the last chunk says so to the client.
            writeHeldHead(client)
            client.write(ByteBuffer(staticString: "0\r\n\r\n"))
        }
        if case .finishResponse(let code, let flag, let keepAlive, let reuseUpstream) = action {
            finish(exchange, from: connection, code: code, flag: flag, keepAlive: keepAlive, reuseUpstream: reuseUpstream)
        } else {
            run(action, for: exchange)
        }
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        guard let exchange, exchange.upstream === connection else { return }
        exchange.upstream = nil
        let handshakeFailed = UpstreamErrorText.isHandshakeFailure(error, fresh: connection.requestsServed <= 1)
        let action = decide(exchange) { machine, retries in
            machine.upstreamClosed(
                malformed: error is MalformedMessage, reused: connection.requestsServed > 1, retries: retries,
                handshakeFailed: handshakeFailed, refused: (error as? UpstreamStreamRefused)?.refusal, badRequest: error is MalformedGRPCWebBody
            )
        }
        run(action, for: exchange, error: error)
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard unflushedToClient, let client else { return }
        unflushedToClient = false
        writeHeldHead(client)
        client.flush()
    }
}
