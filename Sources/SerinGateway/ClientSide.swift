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

    /// Closes at once: what is not written yet may be lost (a stream is reset unless its answer is complete).
    func close() {
        switch self {
        case .connection(let context): context.close(promise: nil)
        case .stream(let stream): stream.close()
        }
    }

    /// Closes once everything written so far has gone out.
    func closeAfterWrites() {
        switch self {
        case .connection(let context):
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
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
