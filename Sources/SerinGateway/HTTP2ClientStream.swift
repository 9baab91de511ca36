import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// One stream of a shared upstream HTTP/2 connection under an `UpstreamConnection`: the proxy's HTTP/1.1
/// request bytes become HEADERS, DATA and trailing HEADERS (Host as `:authority`, chunked trailers as HTTP/2
/// trailers, `te: trailers` kept for gRPC), and the server's frames become HTTP/1.1 response bytes the
/// connection reads as it reads any upstream's (a body chunked unless its length is known, trailers as chunked
/// trailers). A gRPC answer's `grpc-status` is noted on the way, from trailers or a trailers-only response.
final class HTTP2ClientStream: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let scheme: String
    private var request = HTTP1MessageSplitter()
    private var requestEnded = false
    private var responseChunked = false
    private var responseStarted = false
    /// The answer's `grpc-status`, once seen; read by the proxy when it counts the request.
    private(set) var grpcStatus: String?
    /// The `grpc-status` of an answer that is its headers alone (trailers-only): what gRPC retry conditions read.
    private(set) var trailersOnlyStatus: Int?

    /// Whether the connection carrying the stream was sent a GOAWAY, and the last stream it named.
    private let goAway: UpstreamGoAway?
    /// Set by the proxy for a request on a `GRPC-WEB` server: a gRPC-Web request goes as gRPC, its answer comes back
    /// as gRPC-Web (`GRPCWebTranslation`).
    var translatesGRPCWeb = false
    private var grpcWeb: GRPCWebTranslation?

    init(overTLS: Bool, goAway: UpstreamGoAway? = nil) {
        self.scheme = overTLS ? "https" : "http"
        self.goAway = goAway
    }

    /// A stream closed under the request is said in the gateway's words, and one the server never processed (refused
    /// by RST_STREAM, or above the last stream of its GOAWAY, which NIOHTTP2 closes with CANCEL) as refused, which
    /// Istio's default retries cover (`refused-stream`): not a reset of a request the server may have seen.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let closed = error as? NIOHTTP2Errors.StreamClosed else { return context.fireErrorCaught(error) }
        if closed.errorCode == .refusedStream {
            return context.fireErrorCaught(UpstreamStreamRefused(refusal: .refused))
        }
        if closed.errorCode == .cancel, let goAway, goAway.refused(closed.streamID) {
            return context.fireErrorCaught(UpstreamStreamRefused(refusal: goAway.refusal))
        }
        context.fireErrorCaught(UpstreamStreamReset(code: "\(closed.errorCode)"))
    }

    // MARK: Request: HTTP/1.1 bytes to frames

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !requestEnded else {
            promise?.succeed()
            return
        }
        request.append(unwrapOutboundIn(data))
        var frames: [HTTP2Frame.FramePayload]
        do {
            (frames, requestEnded) = try HTTP2Bridging.frames(from: &request, allocator: context.channel.allocator) { bytes throws(MalformedMessage) in
                let head = try HTTP1HeadParser.parseRequest(bytes, limits: .default)
                let headers = requestHeaders(head)
                if translatesGRPCWeb {
                    grpcWeb = GRPCWebTranslation(contentType: head.fields.first("content-type"), accept: head.fields.first("accept"))
                }
                return (grpcWeb?.requestHeaders(headers) ?? headers, try BodyFraming.ofRequest(head))
            }
            if grpcWeb?.textRequest == true {
                frames = try frames.map { frame throws(MalformedGRPCWebBody) in
                    guard case .data(var data) = frame, case .byteBuffer(let piece) = data.data else { return frame }
                    data.data = .byteBuffer(try grpcWeb!.requestBody(piece, end: data.endStream, allocator: context.channel.allocator))
                    return .data(data)
                }
            }
        } catch {
            promise?.fail(error)
            context.fireErrorCaught(error)
            return
        }
        if !HTTP2Bridging.write(frames, on: context, promise: promise) { promise?.succeed() }
    }

    private func requestHeaders(_ head: RequestHead) -> HPACKHeaders {
        var headers: HPACKHeaders = [":method": head.method, ":scheme": scheme]
        if let host = head.fields.first(.host) { headers.add(name: ":authority", value: host) }
        headers.add(name: ":path", value: head.target)
        let options = head.fields.connectionOptions.namedFields
        head.fields.forEachLowercased { name, value, kind in
            switch kind {
            case .host, .transferEncoding, .connection, .keepAlive, .proxyConnection, .upgrade, .trailer: return
            case .te where value != "trailers": return
            default:
                guard !options.contains(name) else { return }
                headers.add(name: name, value: value)
            }
        }
        return headers
    }

    // MARK: Response: frames to HTTP/1.1 bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = context.channel.allocator.buffer(capacity: 0)
        switch unwrapInboundIn(data) {
        case .headers(let frame) where !responseStarted:
            guard let status = frame.headers.first(name: ":status").flatMap(Int.init), (100...999).contains(status) else {
                return context.fireErrorCaught(MalformedMessage(reason: "an HTTP/2 response without a valid :status"))
            }
            if (100..<200).contains(status) { return }
            responseStarted = true
            if grpcWeb != nil {
                // Held while it is not a gRPC answer: its body becomes its `grpc-message`.
                guard let headers = grpcWeb!.responseHeaders(status: status, frame.headers, ended: frame.endStream) else { return }
                writeHead(status: status, headers, ended: frame.endStream, to: &bytes)
            } else {
                writeHead(status: status, frame.headers, ended: frame.endStream, to: &bytes)
            }
        case .headers(let trailers):
            for (name, value, _) in trailers.headers where name == "grpc-status" { grpcStatus = value }
            if grpcWeb != nil {
                if let held = grpcWeb!.heldAnswer() { writeHead(status: held.status, held.headers, ended: true, to: &bytes) }
                guard responseChunked else { break }
                bytes.writeChunk(grpcWeb!.trailerFrame(trailers.headers, allocator: context.channel.allocator))
                bytes.writeStaticString("0\r\n\r\n")
                break
            }
            HTTP2Bridging.appendTrailers(trailers.headers, chunked: responseChunked, to: &bytes)
        case .data(var frame):
            guard responseStarted else { return }
            if grpcWeb != nil, case .byteBuffer(let piece) = frame.data {
                if grpcWeb!.holdsHead {
                    grpcWeb!.hold(piece)
                    guard frame.endStream, let held = grpcWeb!.heldAnswer() else { return }
                    writeHead(status: held.status, held.headers, ended: true, to: &bytes)
                    break
                }
                frame.data = .byteBuffer(grpcWeb!.responseBody(piece, allocator: context.channel.allocator))
            }
            HTTP2Bridging.appendBody(frame, chunked: responseChunked, to: &bytes)
        case .rstStream(let code):
            return context.fireErrorCaught(
                code == .refusedStream ? UpstreamStreamRefused(refusal: .refused) : UpstreamStreamReset(code: "\(code)")
            )
        default:
            return
        }
        if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
    }

    /// The answer's status line and fields as HTTP/1.1: its length as the server gave it, else chunked, or 0 when
    /// the headers end the stream.
    private func writeHead(status: Int, _ headers: HPACKHeaders, ended: Bool, to bytes: inout ByteBuffer) {
        bytes.writeString("HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n")
        var hasLength = false
        for (name, value, _) in headers where !name.hasPrefix(":") {
            if name == "content-length" { hasLength = true }
            if name == "grpc-status" { grpcStatus = value }
            bytes.writeField(name, value)
        }
        if ended {
            trailersOnlyStatus = grpcStatus.flatMap { Int($0) }
            if !hasLength && status != 204 && status != 304 { bytes.writeStaticString("content-length: 0\r\n") }
        } else if !hasLength {
            responseChunked = true
            bytes.writeStaticString("transfer-encoding: chunked\r\n")
        }
        bytes.writeStaticString("\r\n")
    }
}
