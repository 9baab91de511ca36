#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import SerinCore

/// The header fields the proxy itself reads or writes, recognised once when a head is parsed so that
/// every later question ("is there a `connection` field?") is a bit test, not a search.
enum KnownField: UInt8, CaseIterable {
    case other = 0
    case host, connection, keepAlive, proxyConnection, te, trailer, upgrade
    case transferEncoding, contentLength, xForwardedFor, xForwardedProto, xRequestID, xForwardedClientCert
    case xEnvoyAttemptCount, grpcTimeout
    /// `expect: 100-continue`: answered by the gateway itself, as Envoy does unless told to proxy it.
    case expect
    /// Any other `x-envoy-*` field: Envoy's controls (`x-envoy-retry-on`, `x-envoy-upstream-rq-timeout-ms`...), which a
    /// gateway removes from a client's request, as Envoy does at the edge, so no sidecar behind it obeys a client's.
    case xEnvoy

    var name: String {
        switch self {
        case .other: return ""
        case .host: return "host"
        case .connection: return "connection"
        case .keepAlive: return "keep-alive"
        case .proxyConnection: return "proxy-connection"
        case .te: return "te"
        case .trailer: return "trailer"
        case .upgrade: return "upgrade"
        case .transferEncoding: return "transfer-encoding"
        case .contentLength: return "content-length"
        case .xForwardedFor: return "x-forwarded-for"
        case .xForwardedProto: return "x-forwarded-proto"
        case .xRequestID: return "x-request-id"
        case .xForwardedClientCert: return "x-forwarded-client-cert"
        case .xEnvoyAttemptCount: return "x-envoy-attempt-count"
        case .grpcTimeout: return "grpc-timeout"
        case .expect: return "expect"
        case .xEnvoy: return "x-envoy-"
        }
    }

    var bit: UInt32 { 1 << UInt32(rawValue) }

    /// RFC 9110 §7.6.1: fields for one connection only, never forwarded. (`proxy-connection` is not
    /// standard but old clients send it.) `transfer-encoding` is not among them here: bodies are forwarded
    /// with the framing they came with. `proxy-authorization` and `proxy-authenticate` are not either: Envoy relays
    /// them, as RFC 9110 §11.7 lets a proxy.
    /// `trailer` is not one (RFC 9110 §7.6.1 keeps it end to end): it goes on, unless the body it announces is decoded.
    static let hopByHop: UInt32 = [connection, keepAlive, proxyConnection, te, upgrade]
        .reduce(0) { $0 | $1.bit }

    /// Which field `name` is, compared without regard to case.
    /// Every field of every head goes through this: a switch on the length, then a byte comparison with the
    /// one or two names of that length, and no table in a global (whose every read is a `swift_once`).
    static func classify(_ name: UnsafeRawBufferPointer) -> KnownField {
        let known = classifyByLength(name)
        guard known == .other, name.count > 8, let bytes = name.baseAddress else { return known }
        // `x-envoy-` as one little-endian word, the name's first lower-cased as `equals` does.
        let prefix = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) | 0x2020_2020_2020_2020
        return prefix == 0x2D79_6F76_6E65_2D78 ? .xEnvoy : .other
    }

    @inline(__always)
    private static func classifyByLength(_ name: UnsafeRawBufferPointer) -> KnownField {
        switch name.count {
        case 2: return equals(name, "te") ? .te : .other
        case 4: return equals(name, "host") ? .host : .other
        case 6: return equals(name, "expect") ? .expect : .other
        case 7: return equals(name, "upgrade") ? .upgrade : equals(name, "trailer") ? .trailer : .other
        case 10: return equals(name, "connection") ? .connection : equals(name, "keep-alive") ? .keepAlive : .other
        case 12: return equals(name, "x-request-id") ? .xRequestID : equals(name, "grpc-timeout") ? .grpcTimeout : .other
        case 14: return equals(name, "content-length") ? .contentLength : .other
        case 15: return equals(name, "x-forwarded-for") ? .xForwardedFor : .other
        case 16: return equals(name, "proxy-connection") ? .proxyConnection : .other
        case 17: return equals(name, "transfer-encoding") ? .transferEncoding : equals(name, "x-forwarded-proto") ? .xForwardedProto : .other
        case 21: return equals(name, "x-envoy-attempt-count") ? .xEnvoyAttemptCount : .other
        case 23: return equals(name, "x-forwarded-client-cert") ? .xForwardedClientCert : .other
        default: return .other
        }
    }

    /// Whether `name` is `lowercase` (of the same length, at least 2 bytes), without regard to the case of `name`.
    /// A word at a time (overlapping words cover the rest): setting bit 5 of each byte lower-cases a letter, and
    /// since `lowercase` holds only lower-case letters and `-`, no other byte a name or value may hold (control
    /// bytes but a tab are refused before this) can turn into one of them that way.
    @inline(__always)
    fileprivate static func equals(_ name: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        let expected = UnsafeRawPointer(lowercase.utf8Start)
        guard let bytes = name.baseAddress, name.count == count else { return false }
        @inline(__always) func same<Word: FixedWidthInteger>(_ offset: Int, _: Word.Type) -> Bool {
            let lowered = bytes.loadUnaligned(fromByteOffset: offset, as: Word.self) | Word(truncatingIfNeeded: 0x2020_2020_2020_2020 as UInt64)
            return lowered == expected.loadUnaligned(fromByteOffset: offset, as: Word.self)
        }
        switch count {
        case 8...:
            var offset = 0
            while offset + 8 < count {
                guard same(offset, UInt64.self) else { return false }
                offset += 8
            }
            return same(count - 8, UInt64.self)
        case 4...:
            return same(0, UInt32.self) && same(count - 4, UInt32.self)
        case 2...:
            return same(0, UInt16.self) && same(count - 2, UInt16.self)
        default:
            return count == 1 && same(0, UInt8.self)
        }
    }

    static func classify(_ name: String) -> KnownField {
        var name = name
        return name.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }
}

/// The header fields of one HTTP/1 message, in wire order, kept as the bytes they arrived in.
///
/// The proxy forwards most fields untouched, so they are never turned into strings: a field is two ranges
/// in `storage`, lookups compare bytes, and writing the head out copies the bytes. Fields added later (a
/// route's `headers.set`, a local answer's) are appended to `storage`.
struct HeaderFields {
    fileprivate struct Field {
        var nameStart: Int32
        var nameLength: Int32
        var valueStart: Int32
        var valueLength: Int32
        var kind: KnownField
        /// The field's bytes in `storage` are exactly what `write` would write (`name: value\r\n`): written as they
        /// are, in one copy with its neighbours.
        var verbatim: Bool
    }

    private var storage: ByteBuffer
    private var fields: [Field] = []
    /// One bit per `KnownField` present.
    private(set) var present: UInt32 = 0
    /// What the `connection` fields say, when `rememberConnectionOptions()` read it and it names no other field
    /// (most heads): the parser reads it once and the writer asks again. Bits: read, close, keep-alive, upgrade.
    private var rememberedConnection: UInt8 = 0
    /// What `content-length` says, once `rememberContentLength()` read it: the length, `invalidLength`, or `unreadLength`.
    private var rememberedLength = HeaderFields.unreadLength
    /// Which of `content-length` (1) and `connection` (2) the parser has met (`readAhead`).
    private var readAheadSeen: UInt8 = 0

    /// The memory of a finished head's field list, kept by a connection for its next head: one allocation less
    /// per message. A list some copy still shares is not reused in place (copy on write keeps that copy whole).
    struct Recycled {
        fileprivate var fields: [HeaderFields.Field] = []
    }

    /// Fields parsed out of `storage`, whose indices are positions in it, listed in the memory `recycled` kept, if
    /// it kept any.
    init(storage: ByteBuffer, capacity: Int, reusing recycled: inout Recycled) {
        self.storage = storage
        swap(&fields, &recycled.fields)
        fields.removeAll(keepingCapacity: true)
        fields.reserveCapacity(capacity)
    }

    /// Hands the field list's memory to `recycled` for the next head; these fields are empty afterwards.
    mutating func recycle(into recycled: inout Recycled) {
        swap(&fields, &recycled.fields)
        fields = []
        present = 0
        rememberedConnection = 0
        rememberedLength = Self.unreadLength
        readAheadSeen = 0
        byteCount = 0
    }

    /// No fields yet: a head the gateway writes itself, its fields added one by one.
    init() {
        storage = ByteBufferAllocator().buffer(capacity: 64)
    }

    var count: Int { fields.count }

    /// Every name's and value's bytes together: what `GatewayLimits.maxHeaderBytes` limits.
    /// Kept as fields come and go, since every head is asked it twice (its limit, and the space to write it in).
    private(set) var byteCount = 0

    /// Records a field the parser found at these positions of `storage`.
    mutating func appendParsed(
        nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int, kind: KnownField, verbatim: Bool = false
    ) {
        // Positions in one head or its storage, far below Int32's range (the limits bound a head's size).
        if kind == .connection { rememberedConnection = 0 }
        if kind == .contentLength { rememberedLength = Self.unreadLength }
        byteCount += nameLength + valueLength
        fields.append(
            Field(
                nameStart: Int32(truncatingIfNeeded: nameStart), nameLength: Int32(truncatingIfNeeded: nameLength),
                valueStart: Int32(truncatingIfNeeded: valueStart), valueLength: Int32(truncatingIfNeeded: valueLength),
                kind: kind, verbatim: verbatim
            )
        )
        present |= kind.bit
    }

    // MARK: Reading

    func contains(_ field: KnownField) -> Bool { present & field.bit != 0 }

    func first(_ field: KnownField) -> String? {
        guard contains(field) else { return nil }
        // A loop, not firstIndex(where:).map(value(at:)): that closure would copy the fields.
        for index in fields.indices where fields[index].kind == field { return value(at: index) }
        return nil
    }

    /// The first `field`'s value, `previous` itself when its bytes are the same: a connection's requests mostly
    /// name one host, whose String is then made once, not per request.
    func first(_ field: KnownField, sameAs previous: String) -> String? {
        guard contains(field) else { return nil }
        for index in fields.indices where fields[index].kind == field {
            return valueEquals(at: index, previous) ? previous : value(at: index)
        }
        return nil
    }

    /// Whether the first `field`'s value is `known`, byte for byte (no String made).
    func firstEquals(_ field: KnownField, _ known: String) -> Bool {
        guard contains(field) else { return false }
        for index in fields.indices where fields[index].kind == field { return valueEquals(at: index, known) }
        return false
    }

    private func valueEquals(at index: Int, _ known: String) -> Bool {
        withValueBytes(at: index) { bytes in
            let equal: Bool? = known.utf8.withContiguousStorageIfAvailable { known in
                known.count == bytes.count && (bytes.isEmpty || memcmp(known.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
            }
            return equal ?? false
        }
    }

    /// `body` over the bytes of the first `field`'s value; nil when there is none.
    func withFirstValueBytes<Result>(of field: KnownField, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard contains(field) else { return nil }
        for index in fields.indices where fields[index].kind == field { return withValueBytes(at: index, body) }
        return nil
    }

    /// How many fields are `field`.
    func count(of field: KnownField) -> Int {
        guard contains(field) else { return 0 }
        return fields.reduce(0) { $0 + ($1.kind == field ? 1 : 0) }
    }

    func values(_ field: KnownField) -> [String] {
        guard contains(field) else { return [] }
        return fields.indices.filter { fields[$0].kind == field }.map(value(at:))
    }

    /// What the `connection` fields say, read from their bytes.
    struct ConnectionOptions {
        var close = false
        var keepAlive = false
        /// `connection: upgrade`: the message asks to switch protocols (RFC 9110 §7.8).
        var upgrade = false
        /// Further fields the `connection` fields name (RFC 9110 §7.6.1), lower-case, to be dropped with the
        /// standard hop-by-hop ones; never the fields that frame or address the message.
        var namedFields: [String] = []
    }

    var connectionOptions: ConnectionOptions {
        if rememberedConnection & 1 != 0 {
            return ConnectionOptions(
                close: rememberedConnection & 2 != 0, keepAlive: rememberedConnection & 4 != 0, upgrade: rememberedConnection & 8 != 0
            )
        }
        return readConnectionOptions()
    }

    /// `connectionOptions`, kept for the next ask when it names no other field to drop.
    mutating func rememberConnectionOptions() -> ConnectionOptions {
        if rememberedConnection & 1 != 0 { return connectionOptions }
        let options = readConnectionOptions()
        if options.namedFields.isEmpty {
            rememberedConnection = 1 | (options.close ? 2 : 0) | (options.keepAlive ? 4 : 0) | (options.upgrade ? 8 : 0)
        }
        return options
    }

    private func readConnectionOptions() -> ConnectionOptions {
        var options = ConnectionOptions()
        guard contains(.connection) else { return options }
        var namesOthers = false
        storage.withUnsafeReadableBytes { bytes in
            let base = storage.readerIndex
            for field in fields where field.kind == .connection {
                var index = Int(field.valueStart) - base
                let end = index + Int(field.valueLength)
                // What most messages say, one token alone, is answered without splitting the value: most responses
                // come through here twice, read and then written.
                let whole = UnsafeRawBufferPointer(rebasing: bytes[index..<end])
                if whole.count == 10, KnownField.equals(whole, "keep-alive") {
                    options.keepAlive = true
                    continue
                }
                if whole.count == 5, KnownField.equals(whole, "close") {
                    options.close = true
                    continue
                }
                while index < end {
                    var tokenEnd = index
                    while tokenEnd < end, bytes[tokenEnd] != UInt8(ascii: ",") { tokenEnd += 1 }
                    var start = index
                    var stop = tokenEnd
                    while start < stop, bytes[start] == UInt8(ascii: " ") || bytes[start] == 9 { start += 1 }
                    while stop > start, bytes[stop - 1] == UInt8(ascii: " ") || bytes[stop - 1] == 9 { stop -= 1 }
                    index = tokenEnd + 1
                    guard stop > start else { continue }
                    let token = UnsafeRawBufferPointer(rebasing: bytes[start..<stop])
                    let known = KnownField.classify(token)
                    if ASCII.equal(token, Self.close, ignoringCase: true) {
                        options.close = true
                        continue
                    }
                    if known == .keepAlive {
                        options.keepAlive = true
                    } else if known == .upgrade {
                        options.upgrade = true
                    } else if known == .other || KnownField.hopByHop & known.bit == 0 {
                        namesOthers = true
                    }
                    if known == .other || KnownField.hopByHop & known.bit == 0 && Self.framing & known.bit == 0 {
                        options.namedFields.append(String(decoding: token, as: UTF8.self).lowercased())
                    }
                }
            }
        }
        // Beside other names, `close` counts as one too (as a field to drop, should one be called that).
        if namesOthers && options.close { options.namedFields.append("close") }
        return options
    }

    /// Fields `connection` may not name for removal: they frame or address the message.
    private static let framing = KnownField.contentLength.bit | KnownField.transferEncoding.bit | KnownField.host.bit

    private static let close: [UInt8] = Array("close".utf8)

    /// The value of the `content-length` field: nil without one, `.invalid` unless there is one and it is a decimal number.
    enum Length: Equatable {
        case absent
        case value(Int)
        case invalid
    }

    var contentLength: Length {
        guard contains(.contentLength) else { return .absent }
        switch rememberedLength {
        case 0...: return .value(rememberedLength)
        case Self.invalidLength: return .invalid
        default: return readContentLength()
        }
    }

    /// `contentLength`, kept for the next ask (the parser asks once for every head; framing and forwarding ask again).
    mutating func rememberContentLength() {
        guard contains(.contentLength), rememberedLength == Self.unreadLength else { return }
        switch readContentLength() {
        case .value(let length): rememberedLength = length
        case .invalid: rememberedLength = Self.invalidLength
        case .absent: break
        }
    }

    private static let unreadLength = -1
    private static let invalidLength = -2

    /// Reads a `content-length` or `connection` field's value as the parser appends the field (the last one), so
    /// neither `rememberContentLength` nor `rememberConnectionOptions` walks the fields again for what most heads say:
    /// one length, or one `keep-alive` or `close`. A second length is invalid at once; a second `connection` field, or
    /// one holding anything else, is left for them to read.
    mutating func readAhead(_ kind: KnownField, _ value: UnsafeRawBufferPointer) {
        switch kind {
        case .contentLength:
            rememberedLength = readAheadSeen & 1 != 0 ? Self.invalidLength : Self.decimal(value) ?? Self.invalidLength
            readAheadSeen |= 1
        case .connection:
            defer { readAheadSeen |= 2 }
            guard readAheadSeen & 2 == 0 else { return }
            if value.count == 10, KnownField.equals(value, "keep-alive") {
                rememberedConnection = 1 | 4
            } else if value.count == 5, KnownField.equals(value, "close") {
                rememberedConnection = 1 | 2
            }
        default:
            break
        }
    }

    /// A `content-length` value: 1 to 18 decimal digits, nothing else.
    private static func decimal(_ value: UnsafeRawBufferPointer) -> Int? {
        guard value.count > 0, value.count <= 18 else { return nil }
        var number = 0
        for byte in value {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            number = number * 10 + Int(digit)
        }
        return number
    }

    private func readContentLength() -> Length {
        var result = Length.absent
        storage.withUnsafeReadableBytes { bytes in
            let base = storage.readerIndex
            for field in fields where field.kind == .contentLength {
                let start = Int(field.valueStart) - base
                guard let value = Self.decimal(UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(field.valueLength)])) else {
                    result = .invalid
                    return
                }
                // A second field, even of the same number, is refused, as Envoy refuses it: forwarded, it would reach the
                // next hop twice, and one field's list (`5, 5`) is refused too.
                if case .value = result {
                    result = .invalid
                    return
                }
                result = .value(value)
            }
        }
        return result
    }

    /// The first value of the field named `lowercasedName` (compared without regard to case).
    func first(_ lowercasedName: String) -> String? {
        let known = KnownField.classify(lowercasedName)
        if known != .other { return first(known) }
        return fields.indices.first { nameEquals(at: $0, lowercasedName) }.map(value(at:))
    }

    func value(at index: Int) -> String {
        storage.getString(at: Int(fields[index].valueStart), length: Int(fields[index].valueLength)) ?? ""
    }

    /// The point (`StickyPoint`) of a sticky route's key in these fields, hashed from the bytes in place: no
    /// String is built per request. Nil when the request lacks the header, or the cookie in every `cookie` field.
    func stickyPoint(_ stickiness: Stickiness) -> Int? {
        keyHash(stickiness).map(StickyPoint.of(hash:))
    }

    /// The stable hash (`ConsistentHash.hash`) of a header's first value or a cookie's value, read in place; nil when
    /// the request lacks the header, or the cookie in every `cookie` field.
    func keyHash(_ key: Stickiness) -> UInt64? {
        switch key {
        case .header(let name):
            guard let index = fields.indices.first(where: { nameEquals(at: $0, name) }) else { return nil }
            return withValueBytes(at: index) { ConsistentHash.hash($0) }
        case .cookie(let name):
            var name = name
            return name.withUTF8 { wanted in
                for index in fields.indices where nameEquals(at: index, "cookie") {
                    let hash: UInt64? = withValueBytes(at: index) { value in
                        StickyPoint.cookieValue(named: wanted, in: value).map { ConsistentHash.hash(value[$0]) }
                    }
                    if let hash { return hash }
                }
                return nil
            }
        }
    }

    private func withValueBytes<Result>(at index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let field = fields[index]
        return storage.withUnsafeReadableBytes { bytes in
            let start = Int(field.valueStart) - storage.readerIndex
            return body(UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(field.valueLength)]))
        }
    }

    /// Whether field `index` is named `lowercasedName`, compared in place.
    private func nameEquals(at index: Int, _ lowercasedName: String) -> Bool {
        let field = fields[index]
        var lowercasedName = lowercasedName
        return lowercasedName.withUTF8 { wanted in
            guard wanted.count == Int(field.nameLength) else { return false }
            return storage.withUnsafeReadableBytes { bytes in
                let start = Int(field.nameStart) - storage.readerIndex
                for offset in 0..<wanted.count where ASCII.lower(bytes[start + offset]) != wanted[offset] {
                    return false
                }
                return true
            }
        }
    }

    // MARK: Changing

    /// Appends a field. Line breaks in `value` (which would end the field early) become spaces.
    mutating func add(name: String, value: String) {
        let nameStart = storage.writerIndex
        let nameLength = storage.writeString(name)
        let valueStart = storage.writerIndex
        var valueLength = 0
        for byte in value.utf8 {
            valueLength += storage.writeInteger(byte == 0x0D || byte == 0x0A || byte == 0 ? UInt8(ascii: " ") : byte)
        }
        appendParsed(
            nameStart: nameStart, nameLength: nameLength, valueStart: valueStart, valueLength: valueLength,
            kind: KnownField.classify(name)
        )
    }

    /// Removes every field named `lowercasedName`.
    mutating func remove(_ lowercasedName: String) {
        rememberedConnection = 0
        rememberedLength = Self.unreadLength
        let known = KnownField.classify(lowercasedName)
        if known != .other {
            guard contains(known) else { return }
            fields.removeAll { $0.kind == known }
            present &= ~known.bit
        } else {
            var index = 0
            while index < fields.count {
                if nameEquals(at: index, lowercasedName) { fields.remove(at: index) } else { index += 1 }
            }
        }
        byteCount = fields.reduce(0) { $0 + Int($1.nameLength) + Int($1.valueLength) }
    }

    mutating func replaceOrAdd(name: String, value: String) {
        remove(name.lowercased())
        add(name: name, value: value)
    }

    /// Each field's name (lower-cased, as HTTP/2 writes names), value and kind, in order: what an HTTP/2 stream
    /// turns into its header block.
    func forEachLowercased(_ body: (_ name: String, _ value: String, _ kind: KnownField) -> Void) {
        storage.withUnsafeReadableBytes { bytes in
            let base = storage.readerIndex
            for field in fields {
                let nameStart = Int(field.nameStart) - base
                let valueStart = Int(field.valueStart) - base
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameStart + Int(field.nameLength)]), as: UTF8.self)
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueStart + Int(field.valueLength)]), as: UTF8.self)
                body(field.kind == .other ? name.lowercased() : field.kind.name, value, field.kind)
            }
        }
    }

    // MARK: Writing

    /// The most `write` can add: every field, as `name: value\r\n`.
    var writtenBytesBound: Int { byteCount + 4 * fields.count }

    /// `name: value\r\n` for each field in order, but those whose kind is in `skipping` or whose name is in
    /// `skippingNames` (lower-case), into a head being written: at most `writtenBytesBound` bytes.
    func write(to out: inout HeadOutput, skipping: UInt32 = 0, skippingNames: [String] = []) {
        storage.withUnsafeReadableBytes { bytes in
            let base = storage.readerIndex
            // Fields whose bytes are already `name: value\r\n` and lie one after another go out in one copy.
            var runStart = 0
            var runEnd = 0
            for index in fields.indices {
                let field = fields[index]
                guard field.kind.bit & skipping == 0, skippingNames.isEmpty || !skippingNames.contains(where: { nameEquals(at: index, $0) })
                else { continue }
                let nameStart = Int(field.nameStart) - base
                let valueStart = Int(field.valueStart) - base
                if field.verbatim {
                    let end = valueStart + Int(field.valueLength) + 2
                    if nameStart != runEnd {
                        out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
                        runStart = nameStart
                    }
                    runEnd = end
                    continue
                }
                out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
                runStart = 0
                runEnd = 0
                out.append(UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameStart + Int(field.nameLength)]))
                out.append(UInt8(ascii: ":"), UInt8(ascii: " "))
                out.append(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueStart + Int(field.valueLength)]))
                out.append(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
        }
    }
}

/// The current request's fields as routing sees them; one per connection, so the routing attributes hold a
/// reference instead of boxing the fields each time. The request lends its fields here while its route is
/// resolved and takes them back after (two swaps, no copy): held any longer, they would keep the memory the
/// request was read into, which the next read could not reuse then.
final class HeaderLookup: RequestHeaderLookup {
    var fields = HeaderFields()

    func firstValue(forHeader lowercasedName: String) -> String? { fields.first(lowercasedName) }
}

extension String {
    /// Without the spaces and tabs HTTP allows around a field value.
    var trimmingBlanks: Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !blank($0) }), let end = lastIndex(where: { !blank($0) }) else { return "" }
        return self[start...end]
    }
}
