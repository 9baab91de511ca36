/// `analysis.stickiness`: which request key pins a client to one side of a canary split. Each key hashes to a
/// fixed point (`StickyPoint`), and the canary takes the points below its weight, so as the weight rises a key
/// only ever moves from stable to canary, never back, and the client sets nothing.
public enum Stickiness: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The first value of this request header (name lower-cased).
    case header(String)
    /// The value of this cookie in the `cookie` header (name as written: cookie names are case-sensitive).
    case cookie(String)

    /// The key as a person writes it: `header x-user-id`, `cookie session`.
    public var description: String {
        switch self {
        case .header(let name): return "header \(name)"
        case .cookie(let name): return "cookie \(name)"
        }
    }

    /// The key's point in a request, or nil when the request does not carry it (it then takes the weighted pick).
    /// Reads headers through `RequestHeaderLookup`: for `serin route` and tests; the gateway reads its bytes in place.
    public func point(in request: RequestAttributes) -> Int? {
        switch self {
        case .header(let name):
            return request.headers.firstValue(forHeader: name).map { StickyPoint.of($0.utf8) }
        case .cookie(let name):
            guard let header = request.headers.firstValue(forHeader: "cookie") else { return nil }
            let bytes = Array(header.utf8)
            return StickyPoint.cookieValue(named: Array(name.utf8), in: bytes).map { StickyPoint.of(bytes[$0]) }
        }
    }
}

/// A stickiness key's fixed point in `0..<StickyPoint.scale`: FNV-1a over the key's bytes, then a SplitMix64
/// finaliser so that keys differing in one trailing byte spread over the whole range. Never Swift's `Hasher`,
/// which is seeded per process: a key must land on the same point in every gateway and after every restart.
public enum StickyPoint {
    /// Points per whole: a weight of `w` percent covers `w × scale / 100` points.
    public static let scale = 10_000

    /// The point of `bytes`.
    @inlinable
    public static func of<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Int {
        of(hash: ConsistentHash.hash(bytes))
    }

    /// The point of a key already hashed (`ConsistentHash.hash`, the same hash).
    @inlinable
    public static func of(hash: UInt64) -> Int {
        Int(hash % UInt64(scale))
    }

    /// Where the value of cookie `name` lies in a `cookie` header's bytes (`a=1; name=value; b=2`), or nil when
    /// the header has no such cookie. Surrounding double quotes are part of the value, as RFC 6265 reads it.
    @inlinable
    public static func cookieValue<Name: Collection<UInt8>, Bytes: RandomAccessCollection<UInt8>>(
        named name: Name, in header: Bytes
    ) -> Range<Bytes.Index>? {
        var index = header.startIndex
        while index < header.endIndex {
            while index < header.endIndex, header[index] == UInt8(ascii: " ") || header[index] == UInt8(ascii: ";") {
                header.formIndex(after: &index)
            }
            let pairStart = index
            while index < header.endIndex, header[index] != UInt8(ascii: ";") { header.formIndex(after: &index) }
            let pairEnd = index
            guard let equals = header[pairStart..<pairEnd].firstIndex(of: UInt8(ascii: "=")) else { continue }
            var nameEnd = equals
            while nameEnd > pairStart, header[header.index(before: nameEnd)] == UInt8(ascii: " ") { header.formIndex(before: &nameEnd) }
            guard header[pairStart..<nameEnd].elementsEqual(name) else { continue }
            var valueStart = header.index(after: equals)
            while valueStart < pairEnd, header[valueStart] == UInt8(ascii: " ") { header.formIndex(after: &valueStart) }
            var valueEnd = pairEnd
            while valueEnd > valueStart, header[header.index(before: valueEnd)] == UInt8(ascii: " ") { header.formIndex(before: &valueEnd) }
            return valueStart..<valueEnd
        }
        return nil
    }
}
