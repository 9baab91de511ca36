import NIOCore
import NIOHPACK

/// gRPC-Web, a browser's gRPC over any HTTP, turned into gRPC for an HTTP/2 upstream and its answer back, as Istio's
/// gateway does on a `GRPC-WEB` server with Envoy's grpc_web filter: a browser cannot send HTTP/2 trailers or read
/// them, so the answer's trailers travel as the body's last frame (flag 0x80, then `name:value` lines), and the
/// `-text` kinds carry the body in base64. One per stream, fed its request and response in order.
struct GRPCWebTranslation {
    /// The request's body is base64 (`application/grpc-web-text`).
    let textRequest: Bool
    /// The client asked for a base64 answer (`accept: application/grpc-web-text`).
    let textResponse: Bool
    /// Base64 characters of the request not yet decoded: fewer than a group of four.
    private var undecoded: [UInt8] = []
    /// The answer is not gRPC (another status or content type): its body, up to `messageLimit` bytes, becomes the
    /// `grpc-message` of a head held until the answer ends.
    private var heldHead: (status: Int, headers: HPACKHeaders)?
    private var heldBody: [UInt8] = []

    /// The most of a non-gRPC answer's body kept as its `grpc-message`, as Envoy keeps.
    static let messageLimit = 1024

    /// The translation for a request with these fields, or nil when it is not gRPC-Web.
    init?(contentType: String?, accept: String?) {
        guard let contentType, let kind = Self.kind(of: contentType) else { return nil }
        textRequest = kind == .text
        textResponse = accept.flatMap(Self.kind) == .text
    }

    private enum Kind { case binary, text }

    /// `application/grpc-web` or `application/grpc-web+proto` (binary), `application/grpc-web-text` or
    /// `application/grpc-web-text+proto`: the four Envoy translates, matched without case; nil for any other.
    private static func kind(of contentType: String) -> Kind? {
        switch contentType.lowercased() {
        case "application/grpc-web", "application/grpc-web+proto": .binary
        case "application/grpc-web-text", "application/grpc-web-text+proto": .text
        default: nil
        }
    }

    /// Whether `contentType` names gRPC-Web: what makes the gateway's own answer to the request a gRPC-Web one.
    static func isGRPCWeb(contentType: String) -> Bool { kind(of: contentType) != nil }

    // MARK: Request

    /// The gRPC request's headers: `application/grpc`, `te: trailers`, no length (the HTTP/1 body's, which a decoded
    /// body does not keep), and `grpc-accept-encoding: identity` unless the client named its own, so the server
    /// compresses no message a browser cannot inflate.
    func requestHeaders(_ headers: HPACKHeaders) -> HPACKHeaders {
        var translated = HPACKHeaders()
        for (name, value, indexing) in headers {
            switch name {
            case "content-type", "content-length", "te": continue
            default: translated.add(name: name, value: value, indexing: indexing)
            }
        }
        translated.add(name: "content-type", value: "application/grpc")
        translated.add(name: "te", value: "trailers")
        if !translated.contains(name: "grpc-accept-encoding") { translated.add(name: "grpc-accept-encoding", value: "identity") }
        return translated
    }

    /// The gRPC body for a piece of the gRPC-Web one: as it is, or decoded from base64, whose groups of four may be
    /// split across pieces. `end`: the body's last piece, after which a partial group is an error.
    mutating func requestBody(_ piece: ByteBuffer, end: Bool, allocator: ByteBufferAllocator) throws(MalformedGRPCWebBody) -> ByteBuffer {
        guard textRequest else { return piece }
        undecoded += piece.readableBytesView
        let whole = undecoded.count / 4 * 4
        var decoded = allocator.buffer(capacity: whole / 4 * 3)
        guard Base64.decode(undecoded[..<whole], into: &decoded) else {
            throw MalformedGRPCWebBody(reason: "the gRPC-Web text request's body is not base64")
        }
        undecoded.removeFirst(whole)
        if end, !undecoded.isEmpty {
            throw MalformedGRPCWebBody(reason: "the gRPC-Web text request's body ends inside a base64 group of four")
        }
        return decoded
    }

    // MARK: Response

    /// The client's headers for the upstream's (`ended`: headers alone, a trailers-only answer), or nil while they
    /// are held: a non-gRPC answer's head waits for its body, which becomes its `grpc-message`.
    mutating func responseHeaders(status: Int, _ headers: HPACKHeaders, ended: Bool) -> HPACKHeaders? {
        let isGRPC = headers.first(name: "content-type").map(GRPCLocalAnswer.isGRPC(contentType:)) ?? false
        var translated = HPACKHeaders()
        // No length: the trailers' frame lengthens the body (an answer that ends here gets 0).
        for (name, value, indexing) in headers where name != "content-type" && name != "content-length" {
            translated.add(name: name, value: value, indexing: indexing)
        }
        translated.add(name: "content-type", value: textResponse ? "application/grpc-web-text+proto" : "application/grpc-web+proto")
        if isGRPC || ended && translated.contains(name: "grpc-status") { return translated }
        heldHead = (status, translated)
        return ended ? heldAnswer()?.headers : nil
    }

    /// Whether a non-gRPC answer's head is held until its end (`heldAnswer`).
    var holdsHead: Bool { heldHead != nil }

    /// Keeps a piece of a non-gRPC answer's body for its `grpc-message`.
    mutating func hold(_ piece: ByteBuffer) {
        let room = Self.messageLimit - heldBody.count
        if room > 0 { heldBody += piece.readableBytesView.prefix(room) }
    }

    /// The held head of a non-gRPC answer, which ends with it: its status as `grpc-status` (gRPC's mapping of
    /// HTTP's), its body as `grpc-message`, and no body, as Envoy's filter answers.
    mutating func heldAnswer() -> (status: Int, headers: HPACKHeaders)? {
        guard let held = heldHead else { return nil }
        heldHead = nil
        var headers = held.headers
        if !headers.contains(name: "grpc-status") {
            headers.add(name: "grpc-status", value: String(GRPCLocalAnswer.status(forHTTP: held.status)))
        }
        if !headers.contains(name: "grpc-message"), !heldBody.isEmpty {
            headers.add(name: "grpc-message", value: GRPCLocalAnswer.message(String(decoding: heldBody, as: UTF8.self)))
        }
        return (held.status, headers)
    }

    /// A piece of the answer's gRPC body as the client reads it: as it is, or in base64 (each piece padded, which a
    /// gRPC-Web client decodes piece by piece).
    func responseBody(_ piece: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard textResponse else { return piece }
        return Base64.encode(piece.readableBytesView, allocator: allocator)
    }

    /// The answer's trailers as the body's last frame: flag 0x80, a 4-byte length, then `name:value` CR LF for each.
    func trailerFrame(_ trailers: HPACKHeaders, allocator: ByteBufferAllocator) -> ByteBuffer {
        var block = allocator.buffer(capacity: 64)
        for (name, value, _) in trailers where !name.hasPrefix(":") {
            block.writeString(name)
            block.writeStaticString(":")
            block.writeString(value)
            block.writeStaticString("\r\n")
        }
        var frame = allocator.buffer(capacity: 5 + block.readableBytes)
        frame.writeInteger(UInt8(0x80))
        frame.writeInteger(UInt32(block.readableBytes))
        frame.writeImmutableBuffer(block)
        return responseBody(frame, allocator: allocator)
    }
}

/// A gRPC-Web text request whose body cannot be decoded: the client's error (400, as Envoy answers it), not the
/// upstream's.
struct MalformedGRPCWebBody: Error {
    let reason: String
}

/// Base64 as gRPC-Web's text kinds write it: the standard alphabet, padded.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    static func encode(_ bytes: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var output = allocator.buffer(capacity: (bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = second == nil ? nil : iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.writeInteger(alphabet[Int(group >> 18 & 63)])
            output.writeInteger(alphabet[Int(group >> 12 & 63)])
            output.writeInteger(second == nil ? UInt8(ascii: "=") : alphabet[Int(group >> 6 & 63)])
            output.writeInteger(third == nil ? UInt8(ascii: "=") : alphabet[Int(group & 63)])
        }
        return output
    }

    /// Decodes whole groups of four into `output`; false at a character outside the alphabet, or padding anywhere
    /// but a group's end. A padded group may be followed by more groups, as gRPC-Web's text streams are written.
    static func decode(_ characters: ArraySlice<UInt8>, into output: inout ByteBuffer) -> Bool {
        var index = characters.startIndex
        while index < characters.endIndex {
            let group = characters[index..<index + 4]
            index += 4
            let padding = group.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            guard padding <= 2 else { return false }
            var value: UInt32 = 0
            for character in group.dropLast(padding) {
                let digit = values[Int(character)]
                guard digit != 0xFF else { return false }
                value = value << 6 | UInt32(digit)
            }
            value <<= UInt32(6 * padding)
            output.writeInteger(UInt8(value >> 16 & 0xFF))
            if padding < 2 { output.writeInteger(UInt8(value >> 8 & 0xFF)) }
            if padding < 1 { output.writeInteger(UInt8(value & 0xFF)) }
        }
        return true
    }
}
