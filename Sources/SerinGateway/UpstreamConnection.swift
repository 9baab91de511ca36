import NIOCore
import SerinCore

/// Receives what happens on an upstream connection while it carries one exchange.
protocol UpstreamDelegate: AnyObject {
    /// A response head: a 1xx (`100 Continue`) may come before the final one.
    func upstream(_ connection: UpstreamConnection, receivedHead head: ResponseHead)
    /// Body bytes, chunked framing included unless the connection `decodesChunks`; `dataBytes` of them are
    /// the body itself.
    func upstream(_ connection: UpstreamConnection, receivedBody bytes: ByteBuffer, dataBytes: Int)
    /// The response is complete.
    func upstreamEnded(_ connection: UpstreamConnection)
    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?)
    func upstreamWritabilityChanged(_ connection: UpstreamConnection)
    /// The upstream delivered all it had for now: the moment to flush what went to the client.
    func upstreamReadComplete(_ connection: UpstreamConnection)
    /// Whether the client side can take more bytes; the upstream stops reading while it cannot.
    var downstreamIsWritable: Bool { get }
    /// A tunnel's upstream finished sending (half-closed) and may still read.
    func upstreamFinishedSending(_ connection: UpstreamConnection)
}

extension UpstreamDelegate {
    func upstreamFinishedSending(_ connection: UpstreamConnection) {}
}

/// One pooled HTTP/1.1 connection to an endpoint: sends a request's bytes and reads the response's framing
/// (head, then a body by length, by chunks or until close) without copying the body. Used only on its
/// channel's event loop.
final class UpstreamConnection {
    let channel: any Channel
    let endpoint: EndpointAddress
    /// The exchange currently using this connection; nil while idle in the pool.
    ///
    /// Strong, and cleared by whoever lets go of the connection (the pool on release, a close, the connection itself
    /// when it fails or closes): a weak reference would give every proxy handler a side table, which makes each
    /// retain and release of the handler, several per request inside NIO's pipeline, take the runtime's slow path.
    var delegate: (any UpstreamDelegate)?
    /// How many requests this connection has carried; a reused connection may have been closed by the
    /// server while idle, which makes a failure before any response byte safe to retry.
    var requestsServed = 0
    fileprivate(set) var isClosed = false
    /// Whether the server said it will close after this response, or the response ends only by closing.
    var closeAfterResponse = false
    /// The client connection whose PROXY protocol header began this connection (`proxyProtocol`), by the pool's
    /// number for it: only that client's later requests reuse it, and it closes when that client goes.
    var client: UInt64?
    /// The pool this connection waits in while idle, told when it closes there.
    var idleIn: UpstreamPool?
    /// The pool's bucket for this connection's endpoint, kept after the first return to it.
    var bucket: UpstreamPool.IdleConnections?
    /// The cluster whose traffic policy this connection counts against; nil for clusters without one.
    let cluster: UpstreamCluster?
    /// The request host that named the server in this connection's TLS, when its cluster names it per request:
    /// only requests to the same host reuse it.
    let serverHost: String?
    /// Closes the connection once it has been idle for the cluster's `idleTimeout`, or once it reaches its
    /// `maxConnectionDuration` while idle.
    var idleTimer: Scheduled<Void>?
    /// When the connection opened, for `maxConnectionDuration`; only read for clusters that set one.
    let opened: NIODeadline
    /// Hand over only the data of a chunked body (for an HTTP/1.0 client), not its framing.
    var decodesChunks = false
    /// The HTTP/2 stream this connection is, when its endpoint speaks HTTP/2: where a gRPC status is read.
    var http2Stream: HTTP2ClientStream?

    private enum Phase {
        /// No request outstanding: any byte now is a broken server.
        case idle
        /// The response head is awaited; `upgrade` when the request asked to switch protocols.
        case head(toHEAD: Bool, upgrade: Bool)
        case body(BodyReader)
        case untilClose
        /// The upstream switched protocols (`101`): every byte belongs to the tunnel, and the connection never
        /// goes back to the pool.
        case tunnel
    }

    private var phase = Phase.idle
    /// The request awaiting its answer is a CONNECT: a 2xx starts the tunnel.
    private var answersConnect = false
    /// The upstream handler's context, while the channel is open: writes start there, not at the tail of the pipeline.
    fileprivate var context: ChannelHandlerContext?
    /// Whether bytes were written since the last flush.
    private var unflushed = false
    /// Bytes of a response head that is not complete yet, and where it ends, searched for as they arrive.
    private var partialHead: ByteBuffer?
    private var headEnd = HeadEndSearch()
    /// The last response head's field list, which the next head's fields fill.
    private var recycledFields = HeaderFields.Recycled()

    /// The most bytes a response head may take, as Envoy's default `max_response_headers_kb`.
    static let maxResponseHeadBytes = 60 * 1024

    init(channel: any Channel, endpoint: EndpointAddress, cluster: UpstreamCluster? = nil, serverHost: String? = nil) {
        self.channel = channel
        self.endpoint = endpoint
        self.cluster = cluster
        self.serverHost = serverHost
        self.opened = cluster?.maxConnectionDuration == nil ? .uptimeNanoseconds(0) : .now()
    }

    var isWritable: Bool { channel.isWritable }

    /// Whether the response under way ends only when the upstream closes.
    var responseEndsWithClose: Bool {
        if case .untilClose = phase { return true }
        return false
    }

    /// Writes a request head; the next bytes read are its response (a `101` starts a tunnel when `upgrade`; so does any
    /// 2xx when `connect`, the answer to a CONNECT).
    func send(head: ByteBuffer, isHEAD: Bool, upgrade: Bool = false, connect: Bool = false) {
        phase = .head(toHEAD: isHEAD, upgrade: upgrade)
        answersConnect = connect
        decodesChunks = false
        write(head)
    }

    /// A passed-through connection: no HTTP at all, every byte read belongs to the tunnel from the start.
    func beginTunnel() {
        phase = .tunnel
    }

    /// Writes request body bytes, framing included.
    func write(_ bytes: ByteBuffer) {
        unflushed = true
        if let context {
            context.write(NIOAny(bytes), promise: nil)
        } else {
            channel.write(bytes, promise: nil)
        }
    }

    /// Sends what was written, if anything was.
    func flush() {
        guard unflushed else { return }
        unflushed = false
        if let context { context.flush() } else { channel.flush() }
    }

    /// A read the handler held back while the client could not keep up.
    fileprivate var readHeld = false

    /// Asks for more response bytes after the client caught up, if a read was held back.
    func resumeReading() {
        guard readHeld else { return }
        readHeld = false
        if let context { context.read() } else { channel.read() }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        channel.close(promise: nil)
    }

    /// A tunnel's client finished sending: the upstream is told so once what was written has gone out.
    func finishSending() {
        flush()
        channel.close(mode: .output, promise: nil)
    }

    /// Closes a tunnel's connection once what was written to it has gone out.
    func closeAfterWrites() {
        guard !isClosed else { return }
        isClosed = true
        let channel = self.channel
        channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Reads the end of a half-closed upstream as an event, not a close: a tunnel may still send to it.
    func allowHalfClosure() {
        // Over TLS the upstream's end is its close_notify, which ends the tunnel.
        if cluster?.tls != nil { return }
        try? channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
    }

    fileprivate func markClosed() {
        isClosed = true
    }

    // MARK: Reading the response

    fileprivate func received(_ bytes: ByteBuffer) {
        var buffer = bytes
        if var partial = partialHead {
            partialHead = nil
            partial.writeImmutableBuffer(bytes)
            buffer = partial
        }
        while buffer.readableBytes > 0 {
            guard let delegate else {
                // Bytes on an idle connection mean the server broke HTTP framing; it cannot be reused.
                close()
                return
            }
            switch phase {
            case .idle:
                close()
                return
            case .head(let toHEAD, let upgrade):
                guard let end = headEnd.find(in: buffer) else {
                    guard buffer.readableBytes <= Self.maxResponseHeadBytes else {
                        return fail(MalformedMessage(reason: "a response head longer than \(Self.maxResponseHeadBytes) bytes"))
                    }
                    guard HTTP1HeadParser.couldBeginResponse(buffer) else {
                        return fail(MalformedMessage(reason: "the status line is not HTTP/1.x CODE REASON"))
                    }
                    partialHead = buffer
                    return
                }
                var head: ResponseHead
                let framing: BodyFraming
                do {
                    head = try HTTP1HeadParser.parseResponse(buffer.readSlice(length: end)!, reusing: &recycledFields)
                    framing = try BodyFraming.ofResponse(head, toHEAD: toHEAD)
                } catch {
                    return fail(error)
                }
                if upgrade && (head.status == 101 || (answersConnect && (200..<300).contains(head.status))) {
                    phase = .tunnel
                    hand(&head, to: delegate)
                    continue
                }
                if head.isInformational {
                    hand(&head, to: delegate)
                    continue
                }
                if !head.isKeepAlive { closeAfterResponse = true }
                if let reader = BodyReader(framing) {
                    phase = .body(reader)
                } else if case .untilClose = framing {
                    phase = .untilClose
                    closeAfterResponse = true
                } else {
                    phase = .idle
                    if buffer.readableBytes > 0 { closeAfterResponse = true }
                    hand(&head, to: delegate)
                    self.delegate?.upstreamEnded(self)
                    return
                }
                hand(&head, to: delegate)
            case .body(var reader):
                let part: (bytes: ByteBuffer, dataBytes: Int, ended: Bool)
                do {
                    part = try reader.read(from: &buffer, decoding: decodesChunks)
                } catch {
                    return fail(error)
                }
                guard part.ended else {
                    // The body goes on in the next read: everything read so far was its.
                    phase = .body(reader)
                    if part.bytes.readableBytes > 0 { delegate.upstream(self, receivedBody: part.bytes, dataBytes: part.dataBytes) }
                    return
                }
                phase = .idle
                if buffer.readableBytes > 0 { closeAfterResponse = true }
                if part.bytes.readableBytes > 0 { delegate.upstream(self, receivedBody: part.bytes, dataBytes: part.dataBytes) }
                self.delegate?.upstreamEnded(self)
                return
            case .untilClose, .tunnel:
                delegate.upstream(self, receivedBody: buffer, dataBytes: buffer.readableBytes)
                return
            }
        }
    }

    /// Gives the exchange a response head, then keeps its field list's memory for the next head.
    private func hand(_ head: inout ResponseHead, to delegate: any UpstreamDelegate) {
        delegate.upstream(self, receivedHead: head)
        head.fields.recycle(into: &recycledFields)
    }

    /// The upstream broke HTTP: the exchange hears why, and the connection is closed.
    private func fail(_ error: MalformedMessage) {
        markClosed()
        phase = .idle
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(self, error: error)
        channel.close(promise: nil)
    }

    /// The channel closed: a body that ends with the connection is complete now; anything else was cut.
    fileprivate func closed() {
        markClosed()
        let endedResponse = responseEndsWithClose
        phase = .idle
        guard let delegate else {
            idleIn?.forget(self)
            return
        }
        if endedResponse {
            delegate.upstreamEnded(self)
        } else {
            self.delegate = nil
            delegate.upstreamClosed(self, error: nil)
        }
    }
}

/// `address:port` of an endpoint: the key upstream pools are kept under.
struct EndpointAddress: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    var description: String { "\(host):\(port)" }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(_ endpoint: Cluster.Endpoint) {
        self.init(host: endpoint.address, port: endpoint.port)
    }

    /// Each endpoint's index in `endpoints` by its address (the last, where two share one): how state kept per
    /// endpoint follows it into a cluster's new endpoint list.
    static func indices(in endpoints: [Cluster.Endpoint]) -> [EndpointAddress: Int] {
        var indices: [EndpointAddress: Int] = [:]
        for (index, endpoint) in endpoints.enumerated() { indices[EndpointAddress(endpoint)] = index }
        return indices
    }
}

/// The only handler on an upstream channel: hands the bytes read to the connection and holds reads while
/// the client cannot keep up (backpressure, as swift-nio-examples' GlueHandler does).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // Strong: the pipeline is torn down when the channel closes, which breaks the cycle.
    var connection: UpstreamConnection! {
        didSet { connection?.context = context }
    }
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection?.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        connection?.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.delegate?.upstreamReadComplete(connection)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.context = nil
        connection.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.markClosed()
        if let delegate = connection.delegate {
            connection.delegate = nil
            delegate.upstreamClosed(connection, error: error)
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.delegate?.upstreamWritabilityChanged(connection)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connection.delegate?.upstreamFinishedSending(connection)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if let connection, let delegate = connection.delegate, !delegate.downstreamIsWritable {
            connection.readHeld = true
            return
        }
        connection?.readHeld = false
        context.read()
    }
}
