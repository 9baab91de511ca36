/// A request's path as Istio has Envoy normalize it before routing (`meshConfig.pathNormalization` DEFAULT, Envoy's
/// `normalize_path`): percent-encoded unreserved characters decoded (`%61` is `a`, `%2e` is `.`), a backslash read as
/// a slash, `.` and `..` segments removed (RFC 3986 §5.2.4), and the bytes a path may not hold as they are (`"`,
/// `{`, `|`, `^`, a byte above 0x7E...) percent-encoded, as Envoy's canonicalizer encodes them. Slashes are not merged and an encoded slash (`%2F`)
/// stays encoded, as Istio leaves them. Routes match the normalized path and it is what goes upstream, so
/// `/public/../admin` cannot pass a route that keeps `/admin` away and then reach `/admin` at a backend that resolves
/// the dots itself.
public enum RequestPath {
    /// `target` (an origin-form request target: path, then `?query`) normalized, or nil when normalizing changes
    /// nothing, which is found by one scan of the path for `%`, `\`, `/.` and bytes to encode (the common request
    /// allocates nothing).
    public static func normalized(_ target: String) -> String? {
        // Read in place (a native string's bytes are contiguous): no copy of the target on every request.
        if let read = target.utf8.withContiguousStorageIfAvailable({ normalized(UnsafeRawBufferPointer($0)) }) { return read }
        var copy = target
        return copy.withUTF8 { normalized(UnsafeRawBufferPointer($0)) }
    }

    static func normalized(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        // `/` alone, most requests' path: nothing to look at.
        if bytes.count == 1 { return nil }
        var end = bytes.count
        var index = 1
        var mayChange = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "?") {
                end = index
                break
            }
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\") || isEncoded(byte)
                || (byte == UInt8(ascii: ".") && bytes[index &- 1] == UInt8(ascii: "/"))
            {
                mayChange = true
            }
            index += 1
        }
        guard mayChange else { return nil }
        let decoded = decoded(bytes[0..<end])
        var path: [UInt8] = [UInt8(ascii: "/")]
        path.reserveCapacity(decoded.count)
        // The segments after the first slash; `.` and `..` leave a directory's trailing slash when they end the path.
        let segments = decoded.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var kept: [ArraySlice<UInt8>] = []
        for (position, segment) in segments.enumerated() {
            let last = position == segments.count - 1
            if segment.elementsEqual([UInt8(ascii: ".")]) {
                if last { kept.append([]) }
            } else if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if !kept.isEmpty { kept.removeLast() }
                if last { kept.append([]) }
            } else {
                kept.append(segment)
            }
        }
        for (position, segment) in kept.enumerated() {
            if position > 0 { path.append(UInt8(ascii: "/")) }
            path.append(contentsOf: segment)
        }
        path.append(contentsOf: bytes[end...])
        guard !path.elementsEqual(bytes) else { return nil }
        return String(decoding: path, as: UTF8.self)
    }

    /// `path` with its backslashes as slashes, its escapes of unreserved characters decoded and the bytes
    /// `isEncoded` names encoded; other escapes, and a `%` that begins none, as written.
    private static func decoded(_ path: Slice<UnsafeRawBufferPointer>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        var index = path.startIndex
        while index < path.endIndex {
            let byte = path[index]
            if byte == UInt8(ascii: "\\") {
                out.append(UInt8(ascii: "/"))
            } else if byte == UInt8(ascii: "%"), index + 2 < path.endIndex, let high = hexValue(path[index + 1]), let low = hexValue(path[index + 2]),
                isUnreserved(high << 4 | low)
            {
                out.append(high << 4 | low)
                index += 3
                continue
            } else if isEncoded(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            } else {
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    /// A byte Envoy's canonicalizer percent-encodes in a path: a control byte, space, `"`, `#`, `<`, `>`, `^`, `` ` ``,
    /// `{`, `|`, `}`, DEL and every byte above it. (The gateway refuses control bytes and spaces in a target before.)
    private static func isEncoded(_ byte: UInt8) -> Bool {
        switch byte {
        case 0...0x20, 0x7F...0xFF: true
        case UInt8(ascii: "\""), UInt8(ascii: "#"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "^"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"):
            true
        default: false
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// RFC 3986 §2.3: ALPHA / DIGIT / `-` / `.` / `_` / `~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
