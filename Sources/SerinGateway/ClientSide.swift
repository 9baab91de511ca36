import NIOCore

/// The client end of a proxy, where its answers go and from which it asks for more of the request: a connection of
/// its own (HTTP/1.1, plaintext or after TLS), or one stream of an HTTP/2 connection (`HTTP2ServerStream`), which has
/// no channel — an HTTP/2 connection's streams share its pipeline, so a stream costs no channel of its own.
enum ClientSide {
    case connection(ChannelHandlerContext)
    case stream(HTTP2ServerStream)

    func write(_ bytes: ByteBuffer) {
        switch self {
        case .connection(let context): context.write(NIOAny(bytes), promise: nil)
        case .stream(let stream): stream.write(bytes)
        }
    }

    func flush() {
        switch self {
        case .connection(let context): context.flush()
        case .stream(let stream): stream.flush()
        }
    }

    /// `100 Continue`, now: the client may send the request's body.
    func continueRequest() {
        switch self {
        case .connection(let context):
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
        case .stream(let stream):
            stream.continueRequest()
        }
    }

    /// Closes at once: what is not written yet may be lost (a stream is reset unless its answer is complete).
    func close() {
        switch self {
        case .connection(let context): context.close(promise: nil)
        case .stream(let stream): stream.close()
        }
    }

    /// How long a connection the gateway ends waits for the client to close its side (as Envoy's
    /// `delayed_close_timeout`, 1 s by default) before it is closed regardless.
    static let lingerTimeout = TimeAmount.seconds(1)

    /// Closes once everything written so far has gone out. A connection closes in stages (RFC 9112 §9.6): the answer
    /// goes out followed by the end of what the gateway sends (a half-close), and what the client still sends is read
    /// and dropped until it closes its side, or for `lingerTimeout`. Closed at once with the client's bytes unread (a
    /// pipelined request, the rest of a refused one), the socket would send a reset, which can destroy the answer
    /// before the client reads it.
    func closeAfterWrites() {
        switch self {
        case .connection(let context):
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                let halfClosed = context.eventLoop.makePromise(of: Void.self)
                context.close(mode: .output, promise: halfClosed)
                halfClosed.futureResult.assumeIsolated().whenComplete { result in
                    guard case .success = result else { return context.close(promise: nil) }
                    // The client's close ends the channel first (its end of input closes it); if not, this does.
                    context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTimeout) { context.close(promise: nil) }
                }
            }
        case .stream(let stream):
            stream.flush()
            stream.close()
        }
    }

    /// A tunnel's half-close towards the client: what was written goes out, then the end of what the gateway sends.
    func finishSending() {
        switch self {
        case .connection(let context):
            context.flush()
            context.close(mode: .output, promise: nil)
        case .stream(let stream):
            stream.finishSending()
        }
    }

    /// The proxy takes more of the request.
    func read() {
        switch self {
        case .connection(let context): context.read()
        case .stream(let stream): stream.read()
        }
    }

    var isWritable: Bool {
        switch self {
        case .connection(let context): context.channel.isWritable
        case .stream(let stream): stream.isWritable
        }
    }

    var allocator: ByteBufferAllocator {
        switch self {
        case .connection(let context): context.channel.allocator
        case .stream(let stream): stream.allocator
        }
    }
}
