import NIOCore
import NIOHPACK
import NIOHTTP2

/// Splits the HTTP/1.1 bytes of one message at a time, as the proxy writes them, into a head, body data and
/// an end with trailers: the parts an HTTP/2 stream sends as HEADERS, DATA and trailing HEADERS. The bridges
/// between HTTP/2 streams and the HTTP/1 proxy read its output with it (responses downstream, requests
/// upstream); the proxy validated the framing already, so a violation here is a broken message, not a client's.
struct HTTP1MessageSplitter {
    enum Part {
        /// The head's bytes, up to and including the empty line: the caller parses it and calls `expectBody`.
        case head(ByteBuffer)
        case data(ByteBuffer)
        /// The message is complete; a chunked body's trailer fields, if it had any.
        case end(trailers: [(String, String)])
    }

    private enum State {
        case head
        /// Head returned; waiting for the caller to say how the body is framed.
        case framing
        case length(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers([(String, String)])
        case untilClose
        case done
    }

    private var state = State.head
    private var pending: ByteBuffer?
    private var headEnd = HeadEndSearch()

    /// Whether the message under way has a body that ends only when the writer closes.
    var endsWithClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    mutating func append(_ bytes: ByteBuffer) {
        if pending == nil { pending = bytes } else { pending!.writeImmutableBuffer(bytes) }
    }

    /// How the body after the head just returned is framed; `.none` ends the message at once (the next `next()`
    /// says `.end`). After an informational (1xx) head, `expectHead` waits for the final one instead.
    mutating func expectBody(_ framing: BodyFraming) {
        switch framing {
        case .none: state = .length(remaining: 0)
        case .length(let length): state = .length(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    mutating func expectHead() {
        state = .head
    }

    /// The next part of the bytes appended so far, or nil until more arrive.
    mutating func next() throws(MalformedMessage) -> Part? {
        switch state {
        case .head:
            guard let buffer = pending, let end = headEnd.find(in: buffer) else { return nil }
            state = .framing
            return .head(take(end))
        case .framing, .done:
            return nil
        case .length(let remaining):
            if remaining == 0 {
                state = .done
                return .end(trailers: [])
            }
            guard let available = pending?.readableBytes, available > 0 else { return nil }
            let count = min(available, remaining)
            state = .length(remaining: remaining - count)
            return .data(take(count))
        case .untilClose:
            guard let available = pending?.readableBytes, available > 0 else { return nil }
            return .data(take(available))
        case .chunkSize:
            guard let line = takeLine() else { return nil }
            let digits = line.prefix { $0.isHexDigit }
            guard !digits.isEmpty, let size = Int(digits, radix: 16) else {
                throw MalformedMessage(reason: "malformed chunked body: chunk size line \"\(line)\"")
            }
            state = size == 0 ? .trailers([]) : .chunkData(remaining: size)
            return try next()
        case .chunkData(let remaining):
            guard let available = pending?.readableBytes, available > 0 else { return nil }
            let count = min(available, remaining)
            state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return .data(take(count))
        case .chunkDataEnd:
            guard let line = takeLine() else { return nil }
            guard line.isEmpty else { throw MalformedMessage(reason: "malformed chunked body: chunk data longer than its size") }
            state = .chunkSize
            return try next()
        case .trailers(var fields):
            while let line = takeLine() {
                if line.isEmpty {
                    state = .done
                    return .end(trailers: fields)
                }
                guard let colon = line.firstIndex(of: ":") else {
                    throw MalformedMessage(reason: "malformed chunked body: trailer line \"\(line)\" is not NAME: VALUE")
                }
                fields.append((line[..<colon].lowercased(), String(String(line[line.index(after: colon)...]).trimmingBlanks)))
            }
            state = .trailers(fields)
            return nil
        }
    }

    /// The next message starts: what is left over belongs to it.
    mutating func reset() {
        state = .head
        headEnd = HeadEndSearch()
    }

    private mutating func take(_ count: Int) -> ByteBuffer {
        let slice = pending!.readSlice(length: count)!
        if pending!.readableBytes == 0 { pending = nil }
        return slice
    }

    /// A line without its CR LF, once all of it arrived.
    private mutating func takeLine() -> String? {
        guard let buffer = pending, let lineFeed = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let length = lineFeed - buffer.readableBytesView.startIndex + 1
        var line = take(length)
        var text = line.readString(length: length) ?? ""
        text.removeLast()
        if text.last == "\r" { text.removeLast() }
        return text
    }
}

/// What both HTTP/2 bridges do with HTTP/1 bytes: split them into frames one way, write frames as bytes the other.
enum HTTP2Bridging {
    /// The frames for what `splitter` holds so far. `head` turns a head into its HEADERS and framing, or nil for an
    /// informational (1xx) head, which is dropped; `ended` once the message's last frame is among them.
    static func frames(
        from splitter: inout HTTP1MessageSplitter, allocator: ByteBufferAllocator,
        head: (ByteBuffer) throws(MalformedMessage) -> (headers: HPACKHeaders, framing: BodyFraming)?
    ) throws(MalformedMessage) -> (frames: [HTTP2Frame.FramePayload], ended: Bool) {
        var frames: [HTTP2Frame.FramePayload] = []
        while let part = try splitter.next() {
            switch part {
            case .head(let bytes):
                guard let (headers, framing) = try head(bytes) else {
                    splitter.expectHead()
                    continue
                }
                splitter.expectBody(framing)
                frames.append(.headers(.init(headers: headers, endStream: !framing.hasBody)))
                if !framing.hasBody { return (frames, true) }
            case .data(let bytes):
                frames.append(.data(.init(data: .byteBuffer(bytes))))
            case .end(let trailers) where trailers.isEmpty:
                // The body's last DATA frame ends the stream itself, rather than an empty one after it.
                if case .data(var last)? = frames.last, !last.endStream {
                    last.endStream = true
                    frames[frames.count - 1] = .data(last)
                } else {
                    frames.append(endOfStream(allocator))
                }
                return (frames, true)
            case .end(let trailers):
                // Fields a trailer section may not carry (RFC 9110 §6.5.1, RFC 9113 §8.2.2) are left out: an HTTP/2 client
                // refuses the whole answer over one of them.
                frames.append(.headers(.init(headers: HPACKHeaders(trailers.filter { !forbiddenInTrailers.contains($0.0) }), endStream: true)))
                return (frames, true)
            }
        }
        return (frames, false)
    }

    /// Framing, routing and connection fields, which no HTTP/2 trailer section holds (names lower-cased).
    static let forbiddenInTrailers: Set<String> = [
        "content-length", "transfer-encoding", "host", "connection", "keep-alive", "proxy-connection", "te", "upgrade", "trailer",
    ]

    /// An empty DATA frame that ends the stream.
    static func endOfStream(_ allocator: ByteBufferAllocator) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(allocator.buffer(capacity: 0)), endStream: true))
    }

    /// Writes `frames`, `promise` on the last; false when there were none (the caller settles the promise).
    static func write(_ frames: [HTTP2Frame.FramePayload], on context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) -> Bool {
        guard let last = frames.last else { return false }
        for frame in frames.dropLast() { context.write(NIOAny(frame), promise: nil) }
        context.write(NIOAny(last), promise: promise)
        return true
    }

    /// A DATA frame's bytes in an HTTP/1 body: as a chunk when `chunked` (and the last chunk when it ends the stream).
    static func appendBody(_ frame: HTTP2Frame.FramePayload.Data, chunked: Bool, to bytes: inout ByteBuffer) {
        if case .byteBuffer(let data) = frame.data, data.readableBytes > 0 {
            if chunked {
                bytes.writeChunk(data)
            } else {
                bytes.writeImmutableBuffer(data)
            }
        }
        if frame.endStream, chunked { bytes.writeStaticString("0\r\n\r\n") }
    }

    /// Trailing HEADERS as a chunked body's last chunk and trailer fields (dropped when the body is not chunked).
    static func appendTrailers(_ trailers: HPACKHeaders, chunked: Bool, to bytes: inout ByteBuffer) {
        guard chunked else { return }
        bytes.writeStaticString("0\r\n")
        for (name, value, _) in trailers where !name.hasPrefix(":") { bytes.writeField(name, value) }
        bytes.writeStaticString("\r\n")
    }
}

extension ByteBuffer {
    /// `data`, not empty, as one chunk of a chunked body: its size in hex, CR LF, the bytes, CR LF.
    mutating func writeChunk(_ data: ByteBuffer) {
        writeString(String(data.readableBytes, radix: 16))
        writeStaticString("\r\n")
        writeImmutableBuffer(data)
        writeStaticString("\r\n")
    }

    /// `name: value` and CR LF, written without building a string first.
    mutating func writeField(_ name: String, _ value: String) {
        writeString(name)
        writeStaticString(": ")
        writeString(value)
        writeStaticString("\r\n")
    }
}
