import NIOCore
@testable import SerinGateway
import SerinCore
import Testing

/// The byte-level questions the HTTP/1 parser asks of every head: which fields the proxy treats specially, and which
/// bytes may be in a method, a field name or a host.
@Suite("Header classification")
struct HeaderClassificationTests {
    static func classify(_ name: String) -> KnownField { KnownField.classify(name) }

    /// Whether `name` is some `x-envoy-*` field (a letter's case aside), which the gateway removes from a client's request.
    static func isEnvoyControl(_ name: [UInt8]) -> Bool {
        name.count > 8 && name.prefix(8).map(ASCII.lower).elementsEqual("x-envoy-".utf8)
    }

    @Test(
        "what a head's length and connection fields say is the same read as the parser meets them as read after: one length, a second one invalid, one keep-alive or close, and lists or several fields read whole",
        arguments: [
            ("content-length: 12\r\n", HeaderFields.Length.value(12), false, false, [String]()),
            ("Content-Length: 0012\r\nConnection: Keep-Alive\r\n", .value(12), true, false, []),
            ("content-length: 5\r\ncontent-length: 5\r\n", .invalid, false, false, []),
            ("content-length: 5x\r\nconnection: close\r\n", .invalid, false, true, []),
            ("content-length: 1234567890123456789\r\n", .invalid, false, false, []),
            ("connection: close\r\nconnection: x-a\r\n", .absent, false, true, ["x-a", "close"]),
            ("connection: keep-alive, x-b\r\n", .absent, true, false, ["x-b"]),
            ("connection: x-c\r\nconnection: keep-alive\r\n", .absent, true, false, ["x-c"]),
        ]
    )
    func lengthAndConnectionReadAhead(fields: String, length: HeaderFields.Length, keepAlive: Bool, close: Bool, named: [String]) throws {
        let head = try HTTP1HeadParser.parseResponse(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\(fields)\r\n"))
        #expect(head.fields.contentLength == length)
        let options = head.fields.connectionOptions
        #expect(options.keepAlive == keepAlive && options.close == close && options.namedFields == named, "\(options)")
        #expect(head.isKeepAlive == !close)
    }

    @Test("every field the proxy treats specially is known by its name in any case, and names of the same length are not")
    func knownFields() {
        for field in KnownField.allCases where field != .other && field != .xEnvoy {
            #expect(Self.classify(field.name) == field, "\(field.name)")
            #expect(Self.classify(field.name.uppercased()) == field, "\(field.name.uppercased())")
            let capitalised = field.name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
            #expect(Self.classify(capitalised) == field, "\(capitalised)")
            // The same length, one letter off: an ordinary field.
            var near = Array(field.name.utf8)
            near[near.count - 1] = near[near.count - 1] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
            #expect(Self.classify(String(decoding: near, as: UTF8.self)) == (Self.isEnvoyControl(near) ? .xEnvoy : .other), "\(String(decoding: near, as: UTF8.self))")
        }
        // Envoy's controls by their prefix, in any case; the attempt count by its name.
        for control in ["x-envoy-retry-on", "X-Envoy-Max-Retries", "X-ENVOY-UPSTREAM-RQ-TIMEOUT-MS", "x-envoy-a"] {
            #expect(Self.classify(control) == .xEnvoy, "\(control)")
        }
        for other in ["x-envoy-", "x-envoy", "x-envoyish", "x_envoy-retry", "y-envoy-retry-on", "xx-envoy-retry"] {
            #expect(Self.classify(other) == .other, "\(other)")
        }
        for other in ["", "x", "content-type", "accept", "hosts", "connections", "x-forwarded-host", "transfer-encodings"] {
            #expect(Self.classify(other) == .other, "\(other)")
        }
    }

    @Test("a known name with any one byte changed, other than a letter's case, is an ordinary field (control bytes, refused by the parser, aside)")
    func knownFieldsExactly() {
        for field in KnownField.allCases where field != .other && field != .xEnvoy {
            let name = Array(field.name.utf8)
            for position in name.indices {
                for value in 0...255 {
                    let byte = UInt8(value)
                    guard byte >= 0x20 || byte == 9, byte != name[position], ASCII.lower(byte) != name[position] else { continue }
                    var changed = name
                    changed[position] = byte
                    let kind = changed.withUnsafeBytes { KnownField.classify($0) }
                    #expect(kind == (Self.isEnvoyControl(changed) ? .xEnvoy : .other), "\(field.name) with byte \(value) at \(position)")
                }
            }
        }
    }

    /// `isMember` holds for exactly the ASCII letters, digits and `punctuation` among the 256 byte values.
    static func expectLettersDigitsAnd(_ punctuation: String, _ isMember: (UInt8) -> Bool) {
        let allowed = Set(punctuation.utf8)
        for value in 0...255 {
            let byte = UInt8(value)
            let expected = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || allowed.contains(byte)
            #expect(isMember(byte) == expected, "byte \(value)")
        }
    }

    @Test("token bytes are RFC 9110's tchar: letters, digits and !#$%&'*+-.^_`|~, nothing else of the 256")
    func tokenBytes() {
        Self.expectLettersDigitsAnd("!#$%&'*+-.^_`|~", HTTP1HeadParser.isTokenByte)
    }

    @Test("a field value is refused for a control byte (but a tab) or DEL wherever it lies in the value, and kept whole otherwise")
    func controlBytesInValues() throws {
        for length in 0...20 {
            for offset in 0..<max(length, 1) {
                for byte: UInt8 in [0, 8, 9, 0x0B, 0x0D, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF] {
                    var value = Array(repeating: UInt8(ascii: "v"), count: length)
                    if length > 0 { value[offset] = byte }
                    let head = Array("GET / HTTP/1.1\r\nhost: a\r\nx-v: ".utf8) + value + Array("\r\nx-w: w\r\n\r\n".utf8)
                    let buffer = ByteBuffer(bytes: head)
                    let refused = length > 0 && ((byte < 0x20 && byte != 9) || byte == 0x7F)
                    do {
                        let fields = try HTTP1HeadParser.parseRequest(buffer, limits: GatewayLimits()).fields
                        #expect(!refused, "byte \(byte) at \(offset) of \(length) was let through")
                        // Blanks at either end are not part of the value.
                        var expected = value[...]
                        while let first = expected.first, first == 0x20 || first == 9 { expected = expected.dropFirst() }
                        while let last = expected.last, last == 0x20 || last == 9 { expected = expected.dropLast() }
                        #expect(fields.first("x-v") == String(decoding: expected, as: UTF8.self), "byte \(byte) at \(offset) of \(length)")
                        #expect(fields.first("x-w") == "w")
                    } catch {
                        #expect(refused, "byte \(byte) at \(offset) of \(length) was refused: \(error.reason)")
                        if refused { #expect(error.reason.contains("control byte \(byte) in header x-v")) }
                    }
                }
            }
        }
    }

    @Test("host bytes are RFC 3986's for uri-host and port: letters, digits and -._~%!$&'()*+,;=:[], nothing else of the 256")
    func authorityBytes() {
        Self.expectLettersDigitsAnd("-._~%!$&'()*+,;=:[]", HTTP1HeadParser.isAuthorityByte)
    }

    /// The `connection` fields of `head`'s fields lines, as the parser reads them.
    static func options(_ lines: String) throws -> HeaderFields.ConnectionOptions {
        try HTTP1HeadParser.parseRequest(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\(lines)\r\n"), limits: GatewayLimits()).fields.connectionOptions
    }

    @Test("what a parsed head's connection, length and size say follows the fields as they are added and removed after parsing")
    func readAgainAfterChanges() throws {
        var fields = try HTTP1HeadParser.parseRequest(
            ByteBuffer(string: "POST / HTTP/1.1\r\nhost: a\r\nconnection: keep-alive\r\ncontent-length: 5\r\n\r\n"), limits: GatewayLimits()
        ).fields
        #expect(fields.connectionOptions.keepAlive && !fields.connectionOptions.close)
        #expect(fields.contentLength == .value(5))
        #expect(fields.byteCount == "host".utf8.count + 1 + "connection".utf8.count + 10 + "content-length".utf8.count + 1)
        fields.add(name: "Connection", value: "close")
        fields.add(name: "content-length", value: "6")
        #expect(fields.connectionOptions.close && fields.connectionOptions.keepAlive)
        #expect(fields.contentLength == .invalid)
        fields.remove("content-length")
        fields.remove("connection")
        #expect(!fields.connectionOptions.close && !fields.connectionOptions.keepAlive)
        #expect(fields.contentLength == .absent)
        #expect(fields.byteCount == "host".utf8.count + 1)
        fields.add(name: "content-length", value: "7")
        #expect(fields.contentLength == .value(7))
        #expect(fields.byteCount == "host".utf8.count + 1 + "content-length".utf8.count + 1)
    }

    @Test("connection: keep-alive and close are read in any case, alone or among other tokens and fields; other names are to be dropped")
    func connectionOptions() throws {
        for lines in ["connection: keep-alive\r\n", "Connection: Keep-Alive\r\n", "connection: KEEP-ALIVE\r\n"] {
            let options = try Self.options(lines)
            #expect(options.keepAlive && !options.close && !options.upgrade && options.namedFields.isEmpty, "\(lines)")
        }
        for lines in ["connection: close\r\n", "Connection: CLOSE\r\n"] {
            let options = try Self.options(lines)
            #expect(options.close && !options.keepAlive && options.namedFields.isEmpty, "\(lines)")
        }
        let several = try Self.options("connection: keep-alive\r\nconnection: x-trace, Upgrade\r\n")
        #expect(several.keepAlive && several.upgrade && !several.close)
        #expect(several.namedFields == ["x-trace"])
        let closing = try Self.options("connection: close, x-trace\r\n")
        #expect(closing.close && closing.namedFields == ["x-trace", "close"])
        let none = try Self.options("")
        #expect(!none.keepAlive && !none.close && none.namedFields.isEmpty)
        let lookalike = try Self.options("connection: keep-alivex\r\n")
        #expect(!lookalike.keepAlive && lookalike.namedFields == ["keep-alivex"])
    }
}
