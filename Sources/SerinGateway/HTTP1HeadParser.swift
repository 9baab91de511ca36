#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

/// Reads HTTP/1.0 and 1.1 message heads (RFC 9112) straight from the bytes a connection received.
///
/// Strict where a proxy must be (no whitespace before a field's colon, no folded lines, no control bytes,
/// one version it knows), since whatever it lets through, it forwards. Stateless: the caller finds where a
/// head ends (`HeadEndSearch`, resumable as bytes trickle in), then parses it once.
enum HTTP1HeadParser {
    /// Bytes of empty lines before a request line, which RFC 9112 §2.2 says to ignore.
    static func leadingEmptyLines(_ bytes: UnsafeRawBufferPointer) -> Int {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") {
                index += 2
            } else {
                break
            }
        }
        return index
    }

    /// Where the next line feed at or after `from` is, if there is one.
    static func lineFeed(in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress, from < bytes.count,
            let found = memchr(base + from, Int32(UInt8(ascii: "\n")), bytes.count - from)
        else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// A 414 or 431 when an incomplete head is already past what the limits allow.
    static func incompleteHeadTooLarge(_ bytes: UnsafeRawBufferPointer, limits: GatewayLimits) -> MalformedMessage? {
        let lineLimit = limits.maxURIBytes + 64
        // The fields start after the request line: their budget counts from there.
        guard let lineEnd = bytes.prefix(lineLimit).firstIndex(of: UInt8(ascii: "\n")) else {
            guard bytes.count > lineLimit else { return nil }
            return MalformedMessage(
                status: .uriTooLong, reason: "request target of more than \(limits.maxURIBytes) bytes exceeds the limit of \(limits.maxURIBytes)"
            )
        }
        if bytes.count - lineEnd > limits.maxHeaderBytes + 4 * (limits.maxHeaderCount + 1) {
            return MalformedMessage(
                status: .requestHeaderFieldsTooLarge,
                reason: "request headers of more than \(limits.maxHeaderBytes) bytes exceed the limit of \(limits.maxHeaderBytes)"
            )
        }
        return nil
    }

    // MARK: Requests

    /// The version to answer a request head the parser refused in: HTTP/1.0 when its request line ends so (as Envoy
    /// answers an HTTP/1.0 client's error), else HTTP/1.1.
    static func answerVersion(forRefused head: ByteBuffer) -> HTTPVersion {
        head.withUnsafeReadableBytes { bytes in
            let line = lineEnd(bytes, from: 0)
            guard line.content >= 9, bytes[line.content - 9] == UInt8(ascii: " ") else { return .http1_1 }
            return version(bytes, from: line.content - 8, to: line.content) == .http1_0 ? .http1_0 : .http1_1
        }
    }

    /// Parses the request head that is all of `head` (up to and including its empty line).
    static func parseRequest(_ head: ByteBuffer, limits: GatewayLimits) throws(MalformedMessage) -> RequestHead {
        var recycled = HeaderFields.Recycled()
        return try parseRequest(head, limits: limits, reusing: &recycled)
    }

    /// Parses a request head, its fields listed in the memory of an earlier head's (`HeaderFields.Recycled`).
    /// `tunnels`: the listener opens CONNECT tunnels (the mesh's), so a CONNECT to a host and port is a request.
    /// `checkedHost`: a host an earlier head on the connection passed the host check with; a head with the same bytes
    /// passes it without being read again (most of a keep-alive connection's requests name the same host).
    static func parseRequest(
        _ head: ByteBuffer, limits: GatewayLimits, reusing recycled: inout HeaderFields.Recycled, tunnels: Bool = false,
        checkedHost: String = ""
    ) throws(MalformedMessage) -> RequestHead {
        try head.withUnsafeReadableBytes { bytes throws(MalformedMessage) in
            let lineEnd = lineEnd(bytes, from: 0)
            var cursor = 0
            let methodEnd = try token(bytes, from: 0, to: lineEnd.content, what: "method")
            guard methodEnd < lineEnd.content, bytes[methodEnd] == UInt8(ascii: " ") else {
                throw MalformedMessage(reason: "malformed request: the request line is not METHOD TARGET HTTP/1.x")
            }
            cursor = methodEnd + 1
            var targetEnd = cursor
            while targetEnd < lineEnd.content, bytes[targetEnd] != UInt8(ascii: " ") {
                let byte = bytes[targetEnd]
                // A fragment never goes in a request target (RFC 9112 §3.2).
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "#") else {
                    throw MalformedMessage(reason: "malformed request: byte \(byte) in the request target")
                }
                targetEnd += 1
            }
            guard targetEnd > cursor, targetEnd < lineEnd.content else {
                throw MalformedMessage(reason: "malformed request: the request line is not METHOD TARGET HTTP/1.x")
            }
            if targetEnd - cursor > limits.maxURIBytes {
                throw MalformedMessage(
                    status: .uriTooLong,
                    reason: "request target of \(targetEnd - cursor) bytes exceeds the limit of \(limits.maxURIBytes)"
                )
            }
            guard let version = version(bytes, from: targetEnd + 1, to: lineEnd.content) else {
                if let major = otherMajorVersion(bytes, from: targetEnd + 1, to: lineEnd.content) {
                    throw MalformedMessage(
                        status: .httpVersionNotSupported, reason: "HTTP/\(major).x is not supported: this gateway speaks HTTP/1.0 and HTTP/1.1"
                    )
                }
                throw MalformedMessage(reason: "malformed request: the version is not HTTP/1.0 or HTTP/1.1")
            }
            let method = methodEnd == 3 && bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "T")
                ? "GET" : string(bytes, 0..<methodEnd)
            // The most common target of all is made without decoding it.
            let target = targetEnd - cursor == 1 && bytes[cursor] == UInt8(ascii: "/") ? "/" : string(bytes, cursor..<targetEnd)
            // RFC 9110 §9.3.6: CONNECT asks for a tunnel, which only the mesh's listener opens; elsewhere §15.6.2: not
            // implemented. Its target is authority-form (RFC 9112 §3.2.3): a host and a port, nothing else.
            if method == "CONNECT" {
                guard tunnels else {
                    throw MalformedMessage(
                        status: .notImplemented, reason: "CONNECT is not implemented on a Gateway port: only the mesh listener (--mesh) opens tunnels"
                    )
                }
                try checkConnectAuthority(Array(target.utf8))
            } else if bytes[cursor] != UInt8(ascii: "/") && !(target == "*" ? method == "OPTIONS" : RequestHead.httpSchemeLength(of: target) != nil) {
                // RFC 9112 §3.2: origin-form starts with a slash; `*` is for OPTIONS only; absolute-form (http or
                // https, RFC 9110 §4.2) is left to routing, which takes its authority.
                throw MalformedMessage(reason: "malformed request: target \(target.prefix(40)) is not origin-form, http(s) absolute-form or * for OPTIONS")
            }
            if let schemeLength = RequestHead.httpSchemeLength(of: target) {
                try checkAbsoluteFormAuthority(Array(target.utf8.dropFirst(schemeLength).prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") }))
            }
            var fields: HeaderFields
            do throws(MalformedMessage) {
                fields = try parseFields(bytes, from: lineEnd.next, storage: head, reusing: &recycled)
            } catch {
                throw MalformedMessage(reason: "malformed request: \(error.reason)")
            }
            if fields.count > limits.maxHeaderCount {
                throw MalformedMessage(
                    status: .requestHeaderFieldsTooLarge,
                    reason: "\(fields.count) request header fields exceed the limit of \(limits.maxHeaderCount)"
                )
            }
            // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without exactly one host, and
            // to any request with more than one. An HTTP/1.0 request needs one too here: it goes upstream as
            // HTTP/1.1 (as Envoy refuses one without `default_host_for_http_10`), unless its absolute-form target
            // names the host (an HTTP/1.0 client of the mesh's HTTP proxy), which then becomes its Host (§3.2.2).
            let hosts = fields.count(of: .host)
            if hosts != 1 && !(hosts == 0 && version.minor == 0 && bytes[cursor] != UInt8(ascii: "/") && target != "*") {
                throw MalformedMessage(
                    reason: "malformed request: \(hosts) host header fields; a request needs exactly one (RFC 9112 §3.2)"
                )
            }
            // Checked in place: the host's String is made only for the error.
            let known = !checkedHost.isEmpty && fields.firstEquals(.host, checkedHost)
            switch known ? nil : fields.withFirstValueBytes(of: .host, authorityProblem) ?? nil {
            case .byte(let bad)?:
                throw MalformedMessage(
                    reason: "malformed request: byte \(bad) in host \((fields.first(.host) ?? "").debugDescription) is not part of a host and port (RFC 9112 §3.2)"
                )
            case .port?:
                throw MalformedMessage(
                    reason: "malformed request: the port in host \((fields.first(.host) ?? "").debugDescription) is not a number from 1 to 65535 (RFC 9112 §3.2)"
                )
            case nil:
                break
            }
            let size = fields.byteCount
            if size > limits.maxHeaderBytes {
                throw MalformedMessage(
                    status: .requestHeaderFieldsTooLarge,
                    reason: "request headers of \(size) bytes exceed the limit of \(limits.maxHeaderBytes)"
                )
            }
            let isKeepAlive = keepAlive(&fields, version: version)
            return RequestHead(method: method, target: target, version: version, fields: consume fields, isKeepAlive: isKeepAlive)
        }
    }

    // MARK: Responses

    /// Parses the response head that is all of `head`.
    static func parseResponse(_ head: ByteBuffer) throws(MalformedMessage) -> ResponseHead {
        var recycled = HeaderFields.Recycled()
        return try parseResponse(head, reusing: &recycled)
    }

    /// The most fields an answer's head may have, as Envoy's upstream `max_headers_count` (100 by default): one with
    /// more is a 502, as a request with more than `GatewayLimits.maxHeaderCount` is a 431.
    static let maxResponseFields = 100

    /// Parses a response head, its fields listed in the memory of an earlier head's (`HeaderFields.Recycled`).
    static func parseResponse(_ head: ByteBuffer, reusing recycled: inout HeaderFields.Recycled) throws(MalformedMessage) -> ResponseHead {
        try head.withUnsafeReadableBytes { bytes throws(MalformedMessage) in
            let lineEnd = lineEnd(bytes, from: 0)
            guard lineEnd.content >= 12, let version = version(bytes, from: 0, to: 8), bytes[8] == UInt8(ascii: " ") else {
                throw MalformedMessage(reason: "the status line is not HTTP/1.x CODE REASON")
            }
            var status = 0
            for index in 9..<12 {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { throw MalformedMessage(reason: "the status code is not three digits") }
                status = status * 10 + Int(digit)
            }
            guard status >= 100 else { throw MalformedMessage(reason: "status code \(status) is below 100") }
            var reason = ""
            if lineEnd.content > 12 {
                guard bytes[12] == UInt8(ascii: " ") else { throw MalformedMessage(reason: "the status code is not three digits") }
                // Most answers are 200 OK: that reason is made without decoding it.
                reason = lineEnd.content == 15 && bytes[13] == UInt8(ascii: "O") && bytes[14] == UInt8(ascii: "K") ? "OK" : string(bytes, 13..<lineEnd.content)
            }
            var fields = try parseFields(bytes, from: lineEnd.next, storage: head, reusing: &recycled)
            guard fields.count <= maxResponseFields else {
                throw MalformedMessage(reason: "a response head of \(fields.count) fields, over the \(maxResponseFields) the gateway takes")
            }
            let isKeepAlive = keepAlive(&fields, version: version)
            return ResponseHead(version: version, status: status, reason: reason, fields: consume fields, isKeepAlive: isKeepAlive)
        }
    }

    /// Whether `head`, the start of a response whose blank line has not arrived, can still become a status
    /// line (`HTTP/1.D DDD`): an upstream that answers something else (an SSH banner, a TLS alert, a
    /// protocol on the wrong port) is refused at its first bytes rather than waited on until it hangs up.
    static func couldBeginResponse(_ head: ByteBuffer) -> Bool {
        head.withUnsafeReadableBytes { bytes in
            let pattern: StaticString = "HTTP/1.D DDD"
            for index in 0..<min(bytes.count, pattern.utf8CodeUnitCount) {
                let expected = pattern.utf8Start[index]
                let matches = expected == UInt8(ascii: "D") ? bytes[index] &- UInt8(ascii: "0") < 10 : bytes[index] == expected
                if !matches { return false }
            }
            return true
        }
    }

    // MARK: Pieces

    /// The end of the line starting at `from`: where its content stops (before CR LF or LF) and where the
    /// next line starts.
    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> (content: Int, next: Int) {
        let index = lineFeed(in: bytes, from: from) ?? bytes.count
        let content = index > from && bytes[index - 1] == UInt8(ascii: "\r") ? index - 1 : index
        return (content, min(index + 1, bytes.count))
    }

    /// The end of the token starting at `from` (RFC 9110 tchar); it must not be empty.
    private static func token(
        _ bytes: UnsafeRawBufferPointer, from: Int, to end: Int, what: String
    ) throws(MalformedMessage) -> Int {
        var index = from
        while index < end, isTokenByte(bytes[index]) { index += 1 }
        guard index > from else { throw MalformedMessage(reason: "malformed request: the \(what) is empty or not a token") }
        return index
    }

    private static func version(_ bytes: UnsafeRawBufferPointer, from: Int, to end: Int) -> HTTPVersion? {
        guard end - from == 8 else { return nil }
        let prefix: StaticString = "HTTP/1."
        for offset in 0..<7 where bytes[from + offset] != prefix.utf8Start[offset] { return nil }
        switch bytes[from + 7] {
        case UInt8(ascii: "0"): return .http1_0
        // RFC 9112 §2.3: a higher minor version of a major version it speaks is read as the highest it knows.
        case UInt8(ascii: "1")...UInt8(ascii: "9"): return .http1_1
        default: return nil
        }
    }

    /// The major version of a well-formed `HTTP/D.D` other than 1, which is answered 505 (RFC 9110 §15.6.6).
    private static func otherMajorVersion(_ bytes: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        guard end - from == 8 else { return nil }
        let prefix: StaticString = "HTTP/"
        for offset in 0..<5 where bytes[from + offset] != prefix.utf8Start[offset] { return nil }
        let major = bytes[from + 5] &- UInt8(ascii: "0")
        let minor = bytes[from + 7] &- UInt8(ascii: "0")
        guard major < 10, major != 1, minor < 10, bytes[from + 6] == UInt8(ascii: ".") else { return nil }
        return Int(major)
    }

    private static func parseFields(
        _ bytes: UnsafeRawBufferPointer, from start: Int, storage: ByteBuffer, reusing recycled: inout HeaderFields.Recycled
    ) throws(MalformedMessage) -> HeaderFields {
        var fields = HeaderFields(storage: storage, capacity: 8, reusing: &recycled)
        let base = storage.readerIndex
        let count = bytes.count
        var lineStart = start
        while lineStart < count {
            let first = bytes[lineStart]
            // The empty line (CR LF, or a bare LF): the head ends.
            if first == UInt8(ascii: "\n") || (first == UInt8(ascii: "\r") && (lineStart + 1 == count || bytes[lineStart + 1] == UInt8(ascii: "\n"))) {
                break
            }
            guard first != UInt8(ascii: " "), first != 9 else {
                throw MalformedMessage(reason: "a folded header line (obsolete line folding)")
            }
            var colon = lineStart
            while colon < count, isTokenByte(bytes[colon]) { colon += 1 }
            guard colon > lineStart, colon < count, bytes[colon] == UInt8(ascii: ":") else {
                let content = lineEnd(bytes, from: lineStart).content
                throw MalformedMessage(
                    reason: "header line \(fields.count + 1) is not NAME: VALUE (\(string(bytes, lineStart..<min(content, lineStart + 40))))"
                )
            }
            var valueStart = colon + 1
            while valueStart < count, bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == 9 { valueStart += 1 }
            // The value runs to the first control byte; it must be the line's end, CR LF or a bare LF.
            let stop = controlByte(bytes, from: valueStart)
            var valueEnd = stop
            let next: Int
            var crlf = false
            if stop == count {
                next = count
            } else if bytes[stop] == UInt8(ascii: "\n") {
                next = stop + 1
            } else if bytes[stop] == UInt8(ascii: "\r") && (stop + 1 == count || bytes[stop + 1] == UInt8(ascii: "\n")) {
                crlf = stop + 1 < count
                next = min(stop + 2, count)
            } else {
                throw MalformedMessage(reason: "control byte \(bytes[stop]) in header \(string(bytes, lineStart..<colon))")
            }
            while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == 9 { valueEnd -= 1 }
            let kind = KnownField.classify(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<colon]))
            fields.appendParsed(
                nameStart: base + lineStart, nameLength: colon - lineStart, valueStart: base + valueStart,
                valueLength: valueEnd - valueStart, kind: kind,
                // As the writer would write it: one space after the colon, none after the value, CR LF.
                verbatim: crlf && valueEnd == stop && valueStart == colon + 2 && bytes[colon + 1] == UInt8(ascii: " ")
            )
            if kind == .contentLength || kind == .connection {
                fields.readAhead(kind, UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]))
            }
            lineStart = next
        }
        return consume fields
    }

    /// The first byte at or after `from` that no field value may hold (RFC 9110 §5.5: a control byte other than
    /// HTAB, or DEL), `bytes.count` if there is none. The line's CR or LF is the first such byte of a valid line.
    /// Eight bytes at a time: a byte below 0x20 borrows in `word - 0x20…` with its top bit clear, DEL is a zero
    /// byte of `word ^ 0x7F…`, and the lowest flagged byte is always a true one (a borrow only runs upwards).
    /// A tab flags too: the bytes after it are looked at one by one.
    static func controlByte(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        var index = from
        let count = bytes.count
        while index &+ 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let delZero = word ^ 0x7F7F_7F7F_7F7F_7F7F
            let flagged = ((word &- 0x2020_2020_2020_2020) & ~word | (delZero &- 0x0101_0101_0101_0101) & ~delZero) & 0x8080_8080_8080_8080
            if flagged != 0 {
                index &+= flagged.trailingZeroBitCount &>> 3
                break
            }
            index &+= 8
        }
        while index < count {
            let byte = bytes[index]
            if (byte < 0x20 && byte != 9) || byte == 0x7F { return index }
            index &+= 1
        }
        return count
    }

    /// Whether the connection stays open after this message; what the connection and length fields say is kept in
    /// `fields` for the framing and the writer, which ask again.
    private static func keepAlive(_ fields: inout HeaderFields, version: HTTPVersion) -> Bool {
        fields.rememberContentLength()
        let options = fields.rememberConnectionOptions()
        if options.close { return false }
        return version == .http1_1 || options.keepAlive
    }

    private static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// RFC 9110 §5.6.2 tchar: letters, digits and !#$%&'*+-.^_`|~. A bit in one of two words per byte below 128,
    /// so a name costs a shift and a test per byte rather than a chain of range comparisons.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) &>> UInt64(byte) & 1 != 0 }
        return byte < 128 && (0x57FF_FFFF_C7FF_FFFE as UInt64) &>> UInt64(byte &- 64) & 1 != 0
    }

    /// An absolute-form target's authority becomes the request's Host (`inOriginForm`): it is held to a Host's rules,
    /// and may not name a user (RFC 9110 §4.2.4: a recipient treats userinfo as an error).
    /// A CONNECT's target: a host and a port from 1 to 65535, as `checkAbsoluteFormAuthority` reads one, and the port
    /// is required (RFC 9112 §3.2.3).
    private static func checkConnectAuthority(_ authority: [UInt8]) throws(MalformedMessage) {
        try checkAbsoluteFormAuthority(authority)
        let text = String(decoding: authority, as: UTF8.self)
        guard let colon = text.lastIndex(of: ":"), text[text.index(after: colon)...].allSatisfy(\.isNumber),
            !text[..<colon].hasSuffix("["), text.index(after: colon) < text.endIndex
        else {
            throw MalformedMessage(reason: "malformed request: CONNECT's target \(text.debugDescription) is not a host and port (RFC 9112 §3.2.3: HOST:PORT)")
        }
    }

    private static func checkAbsoluteFormAuthority(_ authority: [UInt8]) throws(MalformedMessage) {
        let text = String(decoding: authority, as: UTF8.self).debugDescription
        if authority.contains(UInt8(ascii: "@")) {
            throw MalformedMessage(reason: "malformed request: the target's authority \(text) names a user, which a request may not (RFC 9110 §4.2.4)")
        }
        switch authority.isEmpty ? .byte(0) : authority.withUnsafeBytes(authorityProblem) {
        case .byte?:
            throw MalformedMessage(reason: "malformed request: the target's authority \(text) is not a host and port (RFC 9112 §3.2)")
        case .port?:
            throw MalformedMessage(reason: "malformed request: the port in the target's authority \(text) is not a number from 1 to 65535 (RFC 9112 §3.2)")
        case nil:
            break
        }
    }

    /// What makes a Host value one no request may carry (RFC 9112 §3.2: answered 400).
    enum AuthorityProblem: Equatable {
        /// A byte that is not part of a host and port.
        case byte(UInt8)
        /// A port that is not 1 to 5 digits naming 1 to 65535 (`reviews:abc`, `reviews:+9080`, `reviews:99999`):
        /// the mesh listener routes by the port, and one it cannot read is no port at all.
        case port
    }

    /// The first problem of `value` as a Host, nil when it is `uri-host [ ":" port ]`: one pass over its bytes, then
    /// the port read back from the end.
    static func authorityProblem(_ value: UnsafeRawBufferPointer) -> AuthorityProblem? {
        let count = value.count
        guard count > 0 else { return nil }
        var colons = 0
        var index = 0
        while index < count {
            let byte = value[index]
            guard isAuthorityByte(byte) else { return .byte(byte) }
            colons &+= byte == UInt8(ascii: ":") ? 1 : 0
            index &+= 1
        }
        if colons == 0 { return nil }
        let bracketed = value[0] == UInt8(ascii: "[")
        // Outside brackets one colon at most, the port's (`a:1:2`, or an IPv6 address without them, is no host).
        if !bracketed && colons > 1 { return .port }
        // The port: the digits after the last colon, read from the end (at most five); an empty port is no port
        // (RFC 3986 §3.2.3).
        var port = 0
        var place = 1
        var digits = 0
        index = count &- 1
        while index >= 0 {
            let byte = value[index]
            if byte == UInt8(ascii: ":") { break }
            let digit = byte &- UInt8(ascii: "0")
            // A bracketed literal's last colon is inside it when no port follows (`[::1]`).
            guard digit < 10, digits < 5 else { return bracketed && byte == UInt8(ascii: "]") && digits == 0 ? nil : .port }
            port &+= Int(digit) &* place
            place &*= 10
            digits &+= 1
            index &-= 1
        }
        if digits == 0 { return nil }
        if bracketed && (index < 1 || value[index &- 1] != UInt8(ascii: "]")) { return nil }
        return port <= 65535 && port >= 1 ? nil : .port
    }

    /// RFC 3986 bytes of `uri-host [ ":" port ]` (reg-name, IP literal or address; no userinfo, path or space):
    /// letters, digits, `-._~%!$&'()*+,;=:[]`. A bit in one of two words per byte below 128, as `isTokenByte`: checked
    /// for every byte of every request's host.
    @inline(__always)
    static func isAuthorityByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x2FFF_7FF2_0000_0000 as UInt64) &>> UInt64(byte) & 1 != 0 }
        return byte < 128 && (0x47FF_FFFE_AFFF_FFFE as UInt64) &>> UInt64(byte &- 64) & 1 != 0
    }
}

/// Finds the empty line that ends a head in bytes that arrive a piece at a time, resuming where the last
/// search stopped, so a head trickled in a byte at a time is not searched from its start again and again.
struct HeadEndSearch {
    private var searched = 0

    /// Just past the head's empty line in `buffer`'s readable bytes, or nil while the head is incomplete;
    /// once found, the next search starts afresh (for the next head).
    mutating func find(in buffer: ByteBuffer) -> Int? {
        let from = searched
        let end: Int? = buffer.withUnsafeReadableBytes { bytes in
            var index = max(from, 0)
            while let lineFeed = HTTP1HeadParser.lineFeed(in: bytes, from: index) {
                if lineFeed + 1 < bytes.count, bytes[lineFeed + 1] == UInt8(ascii: "\n") { return lineFeed + 2 }
                if lineFeed + 2 < bytes.count, bytes[lineFeed + 1] == UInt8(ascii: "\r"), bytes[lineFeed + 2] == UInt8(ascii: "\n") {
                    return lineFeed + 3
                }
                index = lineFeed + 1
            }
            return nil
        }
        // A terminator may straddle the boundary: the next search backs up three bytes.
        searched = end == nil ? max(buffer.readableBytes - 3, 0) : 0
        return end
    }
}
