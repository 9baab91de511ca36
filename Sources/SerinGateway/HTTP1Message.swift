import NIOCore
import SerinCore
import NIOHTTP1

/// A request head as the client sent it: the request line's parts and the header fields.
struct RequestHead {
    var method: String
    /// The request target as sent: path plus optional `?query`.
    var target: String
    var version: HTTPVersion
    var fields: HeaderFields
    /// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 closes unless told `keep-alive`.
    var isKeepAlive: Bool

    var isHEAD: Bool { method == "HEAD" }
}

/// A response head: an upstream's, or one the gateway answers with itself.
struct ResponseHead {
    var version: HTTPVersion
    var status: Int
    var reason: String
    var fields: HeaderFields
    var isKeepAlive: Bool

    /// A 1xx answer (`100 Continue`): the final one follows it.
    var isInformational: Bool { (100..<200).contains(status) }

    /// The framing fields (`KnownField` bits) not passed on with this answer, to an HTTP/1 client or an HTTP/2 one: a
    /// 204 has no body whatever its fields say (RFC 9112 §6.3) and may not say a length (RFC 9110 §8.6), so a length an
    /// upstream sent anyway goes no further (a lax HTTP/1 client would read that many bytes of the next answer, and
    /// NIOHTTP2 refuses the HEADERS that end an HTTP/2 stream with one).
    var withheldFraming: UInt32 { status == 204 ? KnownField.contentLength.bit | KnownField.transferEncoding.bit : 0 }
}

/// Why a message could not be read: the status a client is answered with, and what was wrong, and where.
struct MalformedMessage: Error, CustomStringConvertible {
    var status: HTTPResponseStatus = .badRequest
    var reason: String

    var description: String { reason }
}

/// How a message's body ends (RFC 9112 §6.3).
enum BodyFraming {
    case none
    case length(Int)
    case chunked
    /// A response with neither length nor chunking: its body ends when the upstream closes.
    case untilClose

    var hasBody: Bool {
        if case .none = self { return false }
        return true
    }

    /// The framing of a request body; ambiguous framing (both a length and chunking, two lengths) is refused,
    /// as a proxy must, since the next hop might read the request's end elsewhere (request smuggling).
    static func ofRequest(_ head: RequestHead) throws(MalformedMessage) -> BodyFraming {
        let fields = head.fields
        if fields.contains(.transferEncoding) {
            guard !fields.contains(.contentLength) else {
                throw MalformedMessage(reason: "malformed request: both transfer-encoding and content-length are set")
            }
            let codings = fields.values(.transferEncoding)
            guard head.version != .http1_0 else {
                throw MalformedMessage(reason: "malformed request: transfer-encoding in an HTTP/1.0 request")
            }
            // RFC 9112 §6.1: a transfer coding the gateway does not understand is answered 501; chunked is
            // the one it reads, and it must come once and last (§6.3), or where the body ends is not known.
            let list = transferCodings(codings, keepingEmpty: true)
            if let unknown = list.first(where: { !isChunked($0) }) {
                throw MalformedMessage(
                    status: .notImplemented,
                    reason: "transfer coding \"\(unknown)\" is not implemented (transfer-encoding: \(codings.joined(separator: ", ")))"
                )
            }
            guard list.count == 1 else {
                throw MalformedMessage(
                    reason: "malformed request: transfer-encoding \(codings.joined(separator: ", ")) applies chunked more than once"
                )
            }
            return .chunked
        }
        switch fields.contentLength {
        case .absent, .value(0): return .none
        case .value(let length): return .length(length)
        case .invalid:
            throw MalformedMessage(
                reason: "malformed request: content-length \(fields.values(.contentLength).joined(separator: ", ")) is not one number"
            )
        }
    }

    /// The framing of a response to a request whose method was HEAD or not (RFC 9112 §6.3).
    static func ofResponse(_ head: ResponseHead, toHEAD: Bool) throws(MalformedMessage) -> BodyFraming {
        // RFC 9112 §6.1: no 204 carries transfer-encoding. Its body ends at its head whatever it says, but the chunks a
        // server that sent one may write after it would be read as the connection's next answer: a 502, as Envoy's.
        if head.status == 204, head.fields.contains(.transferEncoding) {
            throw MalformedMessage(reason: "a 204 answer with transfer-encoding, which no 204 may carry")
        }
        if toHEAD || head.isInformational || head.status == 204 || head.status == 304 { return .none }
        let fields = head.fields
        if fields.contains(.transferEncoding) {
            // RFC 9112 §6.3: both framings at once may be an attempt at response splitting; answered 502, as Envoy does.
            guard !fields.contains(.contentLength) else { throw MalformedMessage(reason: "both transfer-encoding and content-length are set") }
            let values = fields.values(.transferEncoding)
            // RFC 9112 §6.1: chunked is applied once; twice, the body's end reads two ways (502, as Envoy's).
            if values.count > 1 || values.first?.contains(",") == true,
                transferCodings(values, keepingEmpty: false).count(where: { isChunked($0) }) > 1
            {
                throw MalformedMessage(reason: "transfer-encoding \(values.joined(separator: ", ")) applies chunked more than once")
            }
            return endsWithChunked(values) ? .chunked : .untilClose
        }
        switch fields.contentLength {
        case .absent: return .untilClose
        case .value(0): return .none
        case .value(let length): return .length(length)
        case .invalid:
            throw MalformedMessage(reason: "content-length \(fields.values(.contentLength).joined(separator: ", ")) is not one number")
        }
    }

    private static func endsWithChunked(_ values: [String]) -> Bool {
        guard let last = values.last?.split(separator: ",").last else { return false }
        return isChunked(String(last).trimmingBlanks)
    }

    /// The codings `transfer-encoding`'s `values` list, in order, each without the blanks around it; with
    /// `keepingEmpty`, an empty list element (`chunked,,`) is one too, an empty string.
    static func transferCodings(_ values: [String], keepingEmpty: Bool) -> [String] {
        values.flatMap { value -> [String] in
            value.split(separator: ",", omittingEmptySubsequences: !keepingEmpty).map { String(String($0).trimmingBlanks) }
        }
    }

    /// Compared byte for byte, ASCII letters without regard to case: Unicode lower-casing would read
    /// `chunKed` with a Kelvin sign as chunked, which the next hop does not.
    static func isChunked<S: StringProtocol>(_ coding: S) -> Bool {
        ASCII.equal(coding.utf8, "chunked".utf8, ignoringCase: true)
    }
}

/// Follows a chunked body (RFC 9112 §7.1) byte by byte to find where it ends, without copying it: the proxy
/// forwards the chunked bytes as they are, or just the data when the client cannot read chunks.
///
/// Since the bytes are forwarded as they came, the framing must read one way only: every line ends CR LF
/// (a bare LF is refused, as Envoy does), sizes are hexadecimal with any number of leading zeros but no more
/// than 15 significant digits, and trailer lines are `NAME: VALUE` without control bytes or folding.
struct ChunkedScanner {
    private enum State {
        case size
        case extensions
        case sizeLineFeed
        case data(remaining: Int)
        case dataCarriageReturn
        case dataLineFeed
        /// After the last chunk: trailer fields, then an empty line.
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLineFeed
        case trailerEndLineFeed
        case ended
    }

    private var state = State.size
    private var size = 0
    private var sawDigit = false
    private var significantDigits = 0

    var ended: Bool {
        if case .ended = state { return true }
        return false
    }

    /// Where, in the bytes the last `scan` read, the trailer section began (the line after the last chunk's): 0 when
    /// it had begun before them, nil when they hold none of it.
    private(set) var trailerSectionStart: Int?

    private var inTrailerSection: Bool {
        switch state {
        case .trailerLineStart, .trailerName, .trailerValue, .trailerLineFeed, .trailerEndLineFeed: return true
        default: return false
        }
    }

    /// Reads as much of `bytes` as belongs to the body. Returns how many bytes that was (less than all only
    /// when the body ended inside them); `data` gets the ranges of chunk data among them.
    mutating func scan(
        _ bytes: UnsafeRawBufferPointer, data: (Range<Int>) -> Void = { _ in }
    ) throws(MalformedMessage) -> Int {
        var index = 0
        trailerSectionStart = inTrailerSection ? 0 : nil
        while index < bytes.count {
            let byte = bytes[index]
            switch state {
            case .size:
                if let digit = Self.hexValue(byte) {
                    sawDigit = true
                    if significantDigits > 0 || digit != 0 { significantDigits += 1 }
                    guard significantDigits <= 15 else { throw MalformedMessage(reason: "malformed chunked body: chunk size too large") }
                    size = size << 4 | digit
                } else if sawDigit && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == 9) {
                    state = .extensions
                } else if sawDigit && byte == UInt8(ascii: "\r") {
                    state = .sizeLineFeed
                } else {
                    throw MalformedMessage(reason: "malformed chunked body: expected a hexadecimal chunk size and CR LF")
                }
            case .extensions:
                if byte == UInt8(ascii: "\r") {
                    state = .sizeLineFeed
                } else if byte == UInt8(ascii: "\n") {
                    throw MalformedMessage(reason: "malformed chunked body: a bare LF in a chunk extension")
                }
            case .sizeLineFeed:
                guard byte == UInt8(ascii: "\n") else { throw MalformedMessage(reason: "malformed chunked body: CR without LF") }
                endSizeLine()
                if inTrailerSection { trailerSectionStart = index + 1 }
            case .data(let remaining):
                let take = min(remaining, bytes.count - index)
                data(index..<index + take)
                index += take
                state = remaining == take ? .dataCarriageReturn : .data(remaining: remaining - take)
                continue
            case .dataCarriageReturn:
                guard byte == UInt8(ascii: "\r") else {
                    throw MalformedMessage(reason: "malformed chunked body: chunk data not followed by CR LF (longer than its size?)")
                }
                state = .dataLineFeed
            case .dataLineFeed:
                guard byte == UInt8(ascii: "\n") else { throw MalformedMessage(reason: "malformed chunked body: CR without LF") }
                state = .size
            case .trailerLineStart:
                if byte == UInt8(ascii: "\r") {
                    state = .trailerEndLineFeed
                } else if HTTP1HeadParser.isTokenByte(byte) {
                    state = .trailerName
                } else {
                    throw MalformedMessage(reason: "malformed chunked body: a trailer line that is not NAME: VALUE")
                }
            case .trailerName:
                if byte == UInt8(ascii: ":") {
                    state = .trailerValue
                } else if !HTTP1HeadParser.isTokenByte(byte) {
                    throw MalformedMessage(reason: "malformed chunked body: a trailer line that is not NAME: VALUE")
                }
            case .trailerValue:
                if byte == UInt8(ascii: "\r") {
                    state = .trailerLineFeed
                } else if byte < 0x20 && byte != 9 || byte == 0x7F {
                    throw MalformedMessage(reason: "malformed chunked body: control byte \(byte) in a trailer field")
                }
            case .trailerLineFeed:
                guard byte == UInt8(ascii: "\n") else { throw MalformedMessage(reason: "malformed chunked body: CR without LF") }
                state = .trailerLineStart
            case .trailerEndLineFeed:
                guard byte == UInt8(ascii: "\n") else { throw MalformedMessage(reason: "malformed chunked body: CR without LF") }
                state = .ended
                return index + 1
            case .ended:
                return index
            }
            index += 1
        }
        return index
    }

    private mutating func endSizeLine() {
        state = size == 0 ? .trailerLineStart : .data(remaining: size)
        size = 0
        sawDigit = false
        significantDigits = 0
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

/// What is left of a body framed by a length or by chunks, taken off the front of the bytes received as they
/// arrive: the client's request body and the upstream's answer are read alike.
enum BodyReader {
    case length(remaining: Int)
    case chunked(ChunkedScanner)

    /// A reader for `framing`; nil when the body is empty or runs until the connection closes.
    init?(_ framing: BodyFraming) {
        switch framing {
        case .length(let length): self = .length(remaining: length)
        case .chunked: self = .chunked(ChunkedScanner())
        case .none, .untilClose: return nil
        }
    }

    /// The body's next bytes, taken off `buffer`: as they came (chunk framing included), or, `decoding`, only
    /// a chunked body's data; `dataBytes` of them are the body itself; `ended` once the body is complete, when
    /// what is left in `buffer` belongs to the next message. `droppingTrailers`: a chunked body's trailer fields are
    /// left out, its last chunk followed by the empty line alone.
    mutating func read(
        from buffer: inout ByteBuffer, decoding: Bool = false, droppingTrailers: Bool = false
    ) throws(MalformedMessage) -> (bytes: ByteBuffer, dataBytes: Int, ended: Bool) {
        switch self {
        case .length(let remaining):
            let take = min(remaining, buffer.readableBytes)
            self = .length(remaining: remaining - take)
            return (buffer.readSlice(length: take)!, take, take == remaining)
        case .chunked(var scanner):
            var data: [Range<Int>] = []
            var dataBytes = 0
            let consumed = try buffer.withUnsafeReadableBytes { bytes throws(MalformedMessage) in
                try scanner.scan(bytes) { range in
                    dataBytes += range.count
                    if decoding { data.append(range) }
                }
            }
            self = .chunked(scanner)
            if droppingTrailers, !decoding, let start = scanner.trailerSectionStart {
                return (Self.withoutTrailers(&buffer, consumed: consumed, sectionStart: start, ended: scanner.ended), dataBytes, scanner.ended)
            }
            guard decoding else { return (buffer.readSlice(length: consumed)!, dataBytes, scanner.ended) }
            var decoded = ByteBufferAllocator().buffer(capacity: dataBytes)
            for range in data {
                decoded.writeImmutableBuffer(buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!)
            }
            buffer.moveReaderIndex(forwardBy: consumed)
            return (decoded, dataBytes, scanner.ended)
        }
    }

    /// The `consumed` bytes of `buffer` taken off it, but those of the trailer section from `sectionStart`: the empty
    /// line that ends the body is written anew once it came (the section may have begun in an earlier read).
    private static func withoutTrailers(_ buffer: inout ByteBuffer, consumed: Int, sectionStart: Int, ended: Bool) -> ByteBuffer {
        // Most bodies: no fields, the empty line whole in this read, the bytes as they are.
        if ended, consumed - sectionStart == 2 { return buffer.readSlice(length: consumed)! }
        var kept = buffer.getSlice(at: buffer.readerIndex, length: sectionStart)!
        if ended { kept.writeStaticString("\r\n") }
        buffer.moveReaderIndex(forwardBy: consumed)
        return kept
    }
}
