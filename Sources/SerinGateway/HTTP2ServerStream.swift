import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// One client HTTP/2 stream in front of a `ProxyHandler`: the stream's request frames become HTTP/1.1 request
/// bytes (`:authority` as Host, a body without content-length chunked, trailers as chunked trailers), and the
/// proxy's HTTP/1.1 response bytes become HEADERS, DATA and trailing HEADERS. So one proxy — routing, retries,
/// timeouts, mirrors, telemetry — serves both protocols. An extended CONNECT (RFC 8441, `HTTP2ExtendedConnect`)
/// goes in as the HTTP/1.1 upgrade it stands for; once the upstream switched, the stream's DATA frames are the
/// tunnel's bytes, END_STREAM either way a half-close, and a reset or close ends the tunnel.
///
/// A stream is not a channel: its frames come from its connection's `HTTP2ServerConnection` and its own go out
/// through it, so opening one costs an object, not a pipeline. Flow control is kept here. The client's window is
/// given back as the proxy takes the bytes and held while it cannot (its upstream is full); the proxy's answer
/// counts as unwritable while more than `highWatermark` of it waits to go out (the client's window or socket is
/// full), and writable again below `lowWatermark`.
/// Used on its connection's event loop only.
final class HTTP2ServerStream {
    let id: HTTP2StreamID
    private let connection: HTTP2ServerConnection
    private var proxy: ProxyHandler?

    /// The client's window for this stream, as the connection advertises it (SETTINGS_INITIAL_WINDOW_SIZE).
    static let window = 1 << 20
    static let highWatermark = 64 * 1024
    static let lowWatermark = 16 * 1024

    private var sawRequestHead = false
    private var requestChunked = false
    /// Frames of the request are passed on no more: it ended (END_STREAM), or was refused.
    private var requestEnded = false
    /// The client sent END_STREAM: it sends nothing more on this stream.
    private var clientEnded = false
    /// The stream closed with an error code (the client's RST_STREAM): a request cut off by it is flagged `DR`.
    private var resetByClient = false
    private var requestIsHEAD = false
    /// The request is an extended CONNECT: its DATA frames are a tunnel's bytes, sent on unframed.
    private var requestsTunnel = false
    /// The upstream switched protocols: the answer is `:status 200` and the stream carries the tunnel.
    private var tunnelOpen = false
    /// The client ended its side before the tunnel opened: passed on as a half-close once it has.
    private var clientFinishedEarly = false
    /// Only an extended CONNECT needs it (a WebSocket key): made then, not for every stream.
    private lazy var random = FastRandom()
    private var response = HTTP1MessageSplitter()
    private var responseEnded = false
    /// The response's last frame's write, while it is under way: a reset must not overtake it.
    private var responseWritten: EventLoopFuture<Void>?
    /// Request body bytes the proxy took whose window is not given back yet.
    private var unacknowledged = 0
    /// Response bytes written and not yet out (the client's window, or the socket, holds them).
    private var bytesInFlight = 0
    /// More than `highWatermark` waited to go out, and not yet less than `lowWatermark` since.
    private var overWatermark = false
    /// NIOHTTP2 closed the stream (both sides ended, or either reset it), or the connection closed.
    private(set) var closed = false

    init(id: HTTP2StreamID, connection: HTTP2ServerConnection, proxy: ProxyHandler) {
        self.id = id
        self.connection = connection
        self.proxy = proxy
    }

    var allocator: ByteBufferAllocator { connection.allocator }

    // MARK: Request: frames to HTTP/1.1 bytes

    /// A frame the client sent on this stream.
    func received(_ payload: HTTP2Frame.FramePayload) {
        guard !requestEnded, let proxy else { return }
        var bytes = allocator.buffer(capacity: 0)
        switch payload {
        case .headers(let headers) where !sawRequestHead:
            sawRequestHead = true
            do {
                try writeRequestHead(headers.headers, endStream: headers.endStream, to: &bytes)
            } catch {
                clientEnded = headers.endStream
                return refuse(error)
            }
            requestEnded = headers.endStream || requestEnded
            clientEnded = headers.endStream
        case .headers(let trailers):
            requestEnded = true
            clientEnded = true
            HTTP2Bridging.appendTrailers(trailers.headers, chunked: requestChunked, to: &bytes)
        case .data(let frame):
            guard sawRequestHead else { return }
            requestEnded = frame.endStream
            clientEnded = frame.endStream
            unacknowledged += frame.data.readableBytes + (frame.paddingBytes.map { $0 + 1 } ?? 0)
            HTTP2Bridging.appendBody(frame, chunked: requestChunked, to: &bytes)
        default:
            return
        }
        if bytes.readableBytes > 0 {
            proxy.received(bytes)
            connection.readCompletes(self)
        }
        if requestsTunnel, requestEnded { clientFinishedSending() }
        if unacknowledged > 0, !requestEnded, proxy.mayRead() { read() }
    }

    /// What the client sent in the connection's last read has all been passed on.
    func readComplete() {
        proxy?.clientReadComplete()
    }

    /// The proxy takes more: the window for the bytes it took goes back to the client, half a window at a time
    /// (as NIOHTTP2's own streams do), so a client sending a large body is not sent an update per frame.
    func read() {
        guard !requestEnded, !closed, unacknowledged >= Self.window / 2 else { return }
        let increment = unacknowledged
        unacknowledged = 0
        connection.write(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: increment)), promise: nil)
        connection.flushSoon()
    }

    /// The client's END_STREAM on a tunnel: the proxy reads it as a half-close, once the tunnel is open.
    private func clientFinishedSending() {
        guard tunnelOpen else {
            clientFinishedEarly = true
            return
        }
        proxy?.clientFinishedSending()
    }

    private func writeRequestHead(_ headers: HPACKHeaders, endStream: Bool, to bytes: inout ByteBuffer) throws(MalformedMessage) {
        // One pass over the pseudo-fields (NIOHTTP2 has checked that they come first and are the request's).
        var method: String?, path: String?, authority: String?
        for (name, value, _) in headers {
            guard name.utf8.first == UInt8(ascii: ":") else { break }
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            default: break
            }
        }
        guard let method else { throw MalformedMessage(reason: "malformed request: no :method") }
        if method == "CONNECT", let protocolName = try HTTP2ExtendedConnect.requestedProtocol(headers) {
            requestsTunnel = true
            return try HTTP2ExtendedConnect.writeUpgradeHead(headers, protocolName: protocolName, random: &random, to: &bytes)
        }
        guard let path, !path.isEmpty else { throw MalformedMessage(reason: "malformed request: no :path") }
        // RFC 9113 §8.3.1: a path and query, or `*` for OPTIONS. An absolute URL there would be routed by its own host,
        // past the :authority that everything in front of the gateway reads, as Envoy refuses it.
        guard path.utf8.first == UInt8(ascii: "/") || (path == "*" && method == "OPTIONS") else {
            throw MalformedMessage(reason: "malformed request: :path \(path.prefix(60).debugDescription) is not a path (RFC 9113 §8.3.1)")
        }
        if authority?.isEmpty == true { throw MalformedMessage(reason: "malformed request: an empty :authority") }
        requestIsHEAD = method == "HEAD"
        bytes.writeString(method)
        bytes.writeStaticString(" ")
        bytes.writeString(path)
        bytes.writeStaticString(" HTTP/1.1\r\n")
        if let authority { bytes.writeField("host", authority) }
        var cookies: [String] = []
        var hasLength = false
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") { continue }
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
    private func refuse(_ error: MalformedMessage) {
        requestEnded = true
        let body = allocator.buffer(string: error.reason + "\n")
        let headers: HPACKHeaders = [
            ":status": String(error.status.code), "content-type": "text/plain; charset=utf-8",
            "content-length": String(body.readableBytes), "server": "serin",
        ]
        responseEnded = true
        send(.headers(.init(headers: headers)))
        send(.data(.init(data: .byteBuffer(body), endStream: true)), last: true)
        close()
    }

    // MARK: Response: HTTP/1.1 bytes to frames

    /// Bytes of the proxy's HTTP/1.1 answer: its body after `respond` or `switched`, or (an answer the gateway writes
    /// as bytes, such as the header timeout's 408) a whole message.
    func write(_ bytes: ByteBuffer) {
        guard !responseEnded, !closed else { return }
        response.append(bytes)
        let isHEAD = requestIsHEAD
        let frames: [HTTP2Frame.FramePayload]
        do {
            (frames, responseEnded) = try HTTP2Bridging.frames(from: &response, allocator: allocator) { bytes throws(MalformedMessage) in
                let head = try HTTP1HeadParser.parseResponse(bytes)
                if head.isInformational { return nil }
                return (Self.responseHeaders(head), try BodyFraming.ofResponse(head, toHEAD: isHEAD))
            }
        } catch {
            // The proxy wrote what is not HTTP/1: the stream cannot be answered properly any more.
            responseEnded = true
            reset(.internalError)
            return
        }
        for (index, frame) in frames.enumerated() {
            if case .headers(let block) = frame, !Self.fitsOneFrame(block.headers, allocator: allocator) {
                // Trailers (or a head the gateway wrote) too large to send: this stream fails, not the connection.
                responseEnded = true
                return reset(.internalError)
            }
            send(frame, last: responseEnded && index == frames.count - 1)
        }
        endDeclinedTunnel()
    }

    /// The proxy's answer head, handed over parsed: its HEADERS go out, and the body bytes that follow are read by
    /// its framing (no HTTP/1 head is written to be read again).
    func respond(_ head: ResponseHead) {
        guard !responseEnded, !closed else { return }
        let framing: BodyFraming
        do {
            framing = try BodyFraming.ofResponse(head, toHEAD: requestIsHEAD)
        } catch {
            responseEnded = true
            return reset(.internalError)
        }
        // A transfer coding besides chunked (`gzip, chunked`) has no place in HTTP/2: the body would reach the client still
        // coded and nothing would say so. Refused, as Envoy refuses it.
        if head.fields.contains(.transferEncoding),
            let coding = BodyFraming.transferCodings(head.fields.values(.transferEncoding), keepingEmpty: false)
                .first(where: { !BodyFraming.isChunked($0) })
        {
            return refuse(MalformedMessage(
                status: .badGateway, reason: "upstream protocol error: its answer's transfer coding \(coding) cannot be passed to an HTTP/2 client"
            ))
        }
        let headers = Self.responseHeaders(head)
        guard Self.fitsOneFrame(headers, allocator: allocator) else {
            return refuse(MalformedMessage(
                status: .badGateway,
                reason: "upstream protocol error: its answer's head does not fit one HTTP/2 frame of \(Self.largestHeaderBlock) bytes, "
                    + "the most this gateway sends a client"
            ))
        }
        if framing.hasBody { response.expectBody(framing) } else { responseEnded = true }
        send(.headers(.init(headers: headers, endStream: !framing.hasBody)), last: !framing.hasBody)
        endDeclinedTunnel()
    }

    /// The largest header block the gateway sends in one HEADERS frame: NIOHTTP2 sends no CONTINUATION frames, and a
    /// block past the client's frame size (16 KiB unless it says more) would end the whole connection, every stream on it.
    static let largestHeaderBlock = 16_384

    /// Whether `headers` encode within `largestHeaderBlock`: encoded to find out only when their raw size says they
    /// might not (most heads are a fraction of it).
    static func fitsOneFrame(_ headers: HPACKHeaders, allocator: ByteBufferAllocator) -> Bool {
        var raw = 0
        for (name, value, _) in headers { raw &+= name.utf8.count &+ value.utf8.count &+ 8 }
        guard raw > largestHeaderBlock else { return true }
        var encoder = HPACKEncoder(allocator: allocator)
        var buffer = allocator.buffer(capacity: raw)
        guard (try? encoder.encode(headers: headers, to: &buffer)) != nil else { return false }
        return buffer.readableBytes <= largestHeaderBlock
    }

    /// An interim `:status 100` (RFC 9113 §8.1): the client may send the request's body.
    func continueRequest() {
        guard !responseEnded, !closed else { return }
        send(.headers(.init(headers: [":status": "100"])))
        connection.flushSoon()
    }

    /// An extended CONNECT the upstream did not switch: its answer is the stream's, and the stream ends with it rather
    /// than waiting for a client that expects a tunnel to end its side.
    private func endDeclinedTunnel() {
        if responseEnded, requestsTunnel, !tunnelOpen { close() }
    }

    /// The upstream switched protocols: the stream's answer is `:status 200`, and its DATA frames the tunnel's bytes.
    func switched(_ head: ResponseHead) {
        guard !responseEnded, !closed else { return }
        response.expectBody(.untilClose)
        send(.headers(.init(headers: HTTP2ExtendedConnect.tunnelOpenedHeaders(head))))
        tunnelOpened()
    }

    /// Writes one frame of the answer. DATA is counted while it waits to go out; the answer's `last` frame is
    /// remembered until it is out.
    private func send(_ payload: HTTP2Frame.FramePayload, last: Bool = false) {
        var size = 0
        if case .data(let data) = payload { size = data.data.readableBytes }
        // A short last frame after the whole request needs no watching: nothing waits on it.
        guard size > 0 || last, !(last && clientEnded && size <= Self.lowWatermark) else {
            connection.write(HTTP2Frame(streamID: id, payload: payload), promise: nil)
            return
        }
        let written = connection.eventLoop.makePromise(of: Void.self)
        bytesInFlight += size
        connection.write(HTTP2Frame(streamID: id, payload: payload), promise: written)
        let future = written.futureResult
        if last { responseWritten = future }
        future.assumeIsolated().whenComplete { [self] _ in
            bytesInFlight -= size
            if last, responseWritten === future { responseWritten = nil }
            if overWatermark, bytesInFlight <= Self.lowWatermark {
                overWatermark = false
                writabilityChanged()
            }
        }
        if bytesInFlight > Self.highWatermark { overWatermark = true }
    }

    private func tunnelOpened() {
        tunnelOpen = true
        guard clientFinishedEarly else { return }
        // After the proxy has finished starting the tunnel (it is writing the switch now).
        connection.eventLoop.assumeIsolated().execute { self.proxy?.clientFinishedSending() }
    }

    func flush() {
        connection.flushSoon()
    }

    /// Whether the proxy may write more of the answer now.
    var isWritable: Bool { !overWatermark && connection.isWritable }

    /// The stream's or the connection's room to write changed.
    func writabilityChanged() {
        proxy?.clientWritabilityChanged()
    }

    /// A tunnel's half-close towards the client: END_STREAM, the stream staying open for what the client still sends.
    func finishSending() {
        endResponseIfUntilClose()
        connection.flushSoon()
    }

    /// A body that ends with the connection ends with the stream: the proxy's close becomes END_STREAM.
    private func endResponseIfUntilClose() {
        guard !responseEnded, !closed, response.endsWithClose else { return }
        responseEnded = true
        send(HTTP2Bridging.endOfStream(allocator), last: true)
    }

    /// The proxy closes its client end. A complete answer stays complete: a client still sending is told to stop
    /// (RST_STREAM NO_ERROR, RFC 9113 §8.1) once the answer is out; an answer cut short is reset with INTERNAL_ERROR,
    /// which a gRPC client reports as INTERNAL (CANCEL would read as the client's own cancellation), after what came
    /// of it: NIOHTTP2 drops a reset stream's DATA still waiting for a flush, so that is flushed first.
    func close() {
        endResponseIfUntilClose()
        guard !closed else { return connection.flushSoon() }
        guard responseEnded else {
            connection.flushNow()
            return reset(.internalError)
        }
        connection.flushSoon()
        guard !clientEnded else { return }
        if let responseWritten {
            responseWritten.assumeIsolated().whenComplete { [self] _ in reset(.noError) }
        } else {
            reset(.noError)
        }
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !closed else { return }
        connection.write(HTTP2Frame(streamID: id, payload: .rstStream(code)), promise: nil)
        connection.flushSoon()
    }

    /// NIOHTTP2 closed the stream, or the connection closed. NIOHTTP2 may say so while the proxy is writing its
    /// answer's last frame — the stream closes as that frame goes through its state machine — so the proxy is told
    /// only at the end of the event-loop turn (`proxyNoticesClose`), after it has finished its exchange: a stream
    /// both sides ended is then no client that went away.
    func streamClosed(reset: Bool = false) {
        guard !closed else { return }
        closed = true
        resetByClient = reset
        requestEnded = true
        responseEnded = true
        connection.closedStreamLater(self)
    }

    /// The proxy learns its client is gone (a no-op for a proxy whose exchange is over), and lets go of the stream.
    func proxyNoticesClose() {
        guard let proxy else { return }
        self.proxy = nil
        proxy.clientClosed(reset: resetByClient)
        proxy.streamEnded()
    }

    /// The loop's sweep: the proxy's clocks (the idle timeout of a tunnel on this stream).
    func expire(now: NIODeadline) {
        proxy?.deadlines.expire(now: now)
    }

    /// A drain began: a stream whose answer is done but whose client still has its side open is closed now.
    func drainBegan() {
        proxy?.closeIfIdle()
    }

    /// The status and fields, without HTTP/1's connection-specific ones (RFC 9113 §8.2.2 forbids them).
    /// An answer's HEADERS: its fields less HTTP/1's hop-by-hop ones. A gRPC answer of headers alone (trailers-only:
    /// a gRPC content type, `grpc-status`, `content-length: 0`) leaves out its `content-length` too: its headers are
    /// the call's trailing metadata, where a client would show it, and END_STREAM already says there is no body.
    static func responseHeaders(_ head: ResponseHead) -> HPACKHeaders {
        var headers: HPACKHeaders = [":status": String(head.status)]
        let options = head.fields.connectionOptions.namedFields
        var emptyBody = false, hasStatus = false
        let dropped = KnownField.hopByHop | KnownField.transferEncoding.bit | head.withheldFraming
        head.fields.forEachLowercased { name, value, kind in
            guard kind.bit & dropped == 0, !options.contains(name) else { return }
            if kind == .contentLength { emptyBody = value == "0" } else if kind == .other, name == "grpc-status" { hasStatus = true }
            headers.add(name: name, value: value)
        }
        // The content type is read only for the rare answer that may be trailers-only: most answers cost one compare.
        if emptyBody && hasStatus, headers.first(name: "content-type").map(GRPCLocalAnswer.isGRPC(contentType:)) == true {
            headers.remove(name: "content-length")
        }
        return headers
    }
}
