import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// One client HTTP/2 stream in front of a `ProxyHandler`: the stream's request frames become HTTP/1.1 request
/// bytes (`:authority` as Host, a body without content-length chunked, trailers as chunked trailers), and the
/// proxy's HTTP/1.1 response bytes become HEADERS, DATA and trailing HEADERS. So one proxy — routing, retries,
/// timeouts, mirrors, telemetry — serves both protocols. Flow control stays NIOHTTP2's: the proxy holds reads
/// while its upstream cannot take more (the stream's window then stays closed), and reads the upstream only
/// while this stream's channel is writable. An extended CONNECT (RFC 8441, `HTTP2ExtendedConnect`) goes in as the
/// HTTP/1.1 upgrade it stands for; once the upstream switched, the stream's DATA frames are the tunnel's bytes,
/// END_STREAM either way a half-close, and a reset or close ends the tunnel.
final class HTTP2ServerStream: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var sawRequestHead = false
    private var requestChunked = false
    private var requestEnded = false
    private var requestIsHEAD = false
    /// The request is an extended CONNECT: its DATA frames are a tunnel's bytes, sent on unframed.
    private var requestsTunnel = false
    /// The upstream switched protocols: the answer is `:status 200` and the stream carries the tunnel.
    private var tunnelOpen = false
    /// The client ended its side before the tunnel opened: passed on as a half-close once it has.
    private var clientFinishedEarly = false
    private var random = FastRandom()
    private var response = HTTP1MessageSplitter()
    private var responseEnded = false
    /// Promises of writes that produced no frame, completed once what came before them is flushed.
    private var pendingPromises: [EventLoopPromise<Void>] = []
    /// The response's last frame's write, while it is under way.
    private var responseWritten: EventLoopFuture<Void>?

    // MARK: Request: frames to HTTP/1.1 bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !requestEnded else { return }
        var bytes = context.channel.allocator.buffer(capacity: 0)
        switch unwrapInboundIn(data) {
        case .headers(let headers) where !sawRequestHead:
            sawRequestHead = true
            do {
                try writeRequestHead(headers.headers, endStream: headers.endStream, to: &bytes)
            } catch {
                return refuse(context: context, error)
            }
            requestEnded = headers.endStream
        case .headers(let trailers):
            requestEnded = true
            HTTP2Bridging.appendTrailers(trailers.headers, chunked: requestChunked, to: &bytes)
        case .data(let frame):
            guard sawRequestHead else { return }
            requestEnded = frame.endStream
            HTTP2Bridging.appendBody(frame, chunked: requestChunked, to: &bytes)
        default:
            return
        }
        if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
        if requestsTunnel, requestEnded { clientFinishedSending(context: context) }
    }

    /// The client's END_STREAM on a tunnel: the proxy reads it as a half-close, once the tunnel is open.
    private func clientFinishedSending(context: ChannelHandlerContext) {
        guard tunnelOpen else {
            clientFinishedEarly = true
            return
        }
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    private func writeRequestHead(_ headers: HPACKHeaders, endStream: Bool, to bytes: inout ByteBuffer) throws(MalformedMessage) {
        guard let method = headers.first(name: ":method") else { throw MalformedMessage(reason: "malformed request: no :method") }
        if let protocolName = try HTTP2ExtendedConnect.requestedProtocol(headers) {
            requestsTunnel = true
            return try HTTP2ExtendedConnect.writeUpgradeHead(headers, protocolName: protocolName, random: &random, to: &bytes)
        }
        guard let path = headers.first(name: ":path"), !path.isEmpty else { throw MalformedMessage(reason: "malformed request: no :path") }
        requestIsHEAD = method == "HEAD"
        bytes.writeString("\(method) \(path) HTTP/1.1\r\n")
        let authority = headers.first(name: ":authority")
        if let authority { bytes.writeField("host", authority) }
        var cookies: [String] = []
        var hasLength = false
        for (name, value, _) in headers {
            if name.hasPrefix(":") { continue }
            switch name {
            case "host" where authority != nil: continue
            // RFC 9113 §8.2.3: cookies split into several fields are joined again for HTTP/1.
            case "cookie": cookies.append(value); continue
            case "content-length": hasLength = true
            default: break
            }
            bytes.writeField(name, value)
        }
        if !cookies.isEmpty { bytes.writeString("cookie: \(cookies.joined(separator: "; "))\r\n") }
        if !endStream && !hasLength {
            requestChunked = true
            bytes.writeStaticString("transfer-encoding: chunked\r\n")
        }
        bytes.writeStaticString("\r\n")
    }

    /// A request the gateway cannot turn into HTTP/1: answered on the stream, which then ends.
    private func refuse(context: ChannelHandlerContext, _ error: MalformedMessage) {
        requestEnded = true
        let body = context.channel.allocator.buffer(string: error.reason + "\n")
        let headers: HPACKHeaders = [
            ":status": String(error.status.code), "content-type": "text/plain; charset=utf-8",
            "content-length": String(body.readableBytes), "server": "serin",
        ]
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
        responseEnded = true
    }

    // MARK: Response: HTTP/1.1 bytes to frames

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !responseEnded else {
            // Settled at the next flush, after what came before it: a close that waits on it loses nothing.
            if let promise { pendingPromises.append(promise) }
            return
        }
        response.append(unwrapOutboundIn(data))
        let isHEAD = requestIsHEAD
        let requestsTunnel = self.requestsTunnel
        var switched = false
        let frames: [HTTP2Frame.FramePayload]
        do {
            (frames, responseEnded) = try HTTP2Bridging.frames(from: &response, allocator: context.channel.allocator) { bytes throws(MalformedMessage) in
                let head = try HTTP1HeadParser.parseResponse(bytes)
                if requestsTunnel, head.status == 101 {
                    // The tunnel's bytes follow the head until either side closes.
                    switched = true
                    return (HTTP2ExtendedConnect.tunnelOpenedHeaders(head), .untilClose)
                }
                if head.isInformational { return nil }
                return (Self.responseHeaders(head), try BodyFraming.ofResponse(head, toHEAD: isHEAD))
            }
        } catch {
            // The proxy wrote what is not HTTP/1: the stream cannot be answered properly any more.
            responseEnded = true
            context.close(promise: nil)
            promise?.fail(error)
            return
        }
        var promise = promise
        var lastWrite: EventLoopFuture<Void>?
        if responseEnded, !frames.isEmpty {
            // The response's last frame: a close waits until it is written (NIOHTTP2 drops DATA a reset overtakes).
            let ended = context.eventLoop.makePromise(of: Void.self)
            if let promise { ended.futureResult.cascade(to: promise) }
            awaitWritten(ended.futureResult)
            lastWrite = ended.futureResult
            promise = ended
        }
        if !HTTP2Bridging.write(frames, on: context, promise: promise), let promise { pendingPromises.append(promise) }
        if switched { tunnelOpened(context: context) }
        if responseEnded, requestsTunnel, !tunnelOpen {
            // The upstream declined the switch: its answer is the stream's, and the stream ends with it rather than
            // waiting for a client that expects a tunnel to end its side.
            lastWrite?.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func tunnelOpened(context: ChannelHandlerContext) {
        tunnelOpen = true
        guard clientFinishedEarly else { return }
        // After the proxy has finished starting the tunnel (it is writing the switch now).
        context.eventLoop.assumeIsolated().execute { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        guard !pendingPromises.isEmpty else { return }
        let promises = pendingPromises
        pendingPromises = []
        for promise in promises { promise.succeed() }
    }

    /// A body that ends with the connection ends with the stream: the proxy's close becomes END_STREAM. A close
    /// after a whole response waits for its last frame to be written, so the client gets all of it.
    /// A tunnel's half-close (`.output`) is END_STREAM alone: the stream stays open for what the client still sends.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if !responseEnded, response.endsWithClose {
            responseEnded = true
            let ended = context.eventLoop.makePromise(of: Void.self)
            awaitWritten(ended.futureResult)
            context.writeAndFlush(wrapOutboundOut(HTTP2Bridging.endOfStream(context.channel.allocator)), promise: ended)
        }
        if mode == .output, tunnelOpen {
            if let responseWritten, let promise { responseWritten.cascade(to: promise) } else { promise?.succeed() }
            return
        }
        if let responseWritten {
            responseWritten.assumeIsolated().whenComplete { _ in context.close(mode: mode, promise: promise) }
            return
        }
        context.close(mode: mode, promise: promise)
    }

    /// Remembers the response's last write until it completes.
    private func awaitWritten(_ written: EventLoopFuture<Void>) {
        responseWritten = written
        written.assumeIsolated().whenComplete { [weak self] _ in self?.responseWritten = nil }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for promise in pendingPromises { promise.succeed() }
        pendingPromises = []
    }

    /// The status and fields, without HTTP/1's connection-specific ones (RFC 9113 §8.2.2 forbids them).
    static func responseHeaders(_ head: ResponseHead) -> HPACKHeaders {
        var headers: HPACKHeaders = [":status": String(head.status)]
        let options = head.fields.connectionOptions.namedFields
        head.fields.forEachLowercased { name, value, kind in
            guard kind.bit & (KnownField.hopByHop | KnownField.transferEncoding.bit) == 0, !options.contains(name) else { return }
            headers.add(name: name, value: value)
        }
        return headers
    }
}
