import SerinCore

extension RequestHead {
    /// The head as an origin server takes it: an absolute-form target (`GET http://reviews:9080/x`, what a client
    /// sends to an HTTP proxy) becomes its path, and its authority replaces any `Host` field (RFC 9112 §3.2.2).
    /// Any other target is returned as it came.
    func inOriginForm() -> RequestHead {
        guard let schemeLength = Self.httpSchemeLength(of: target) else { return self }
        let rest = target.dropFirst(schemeLength)
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<pathStart]
        if let userinfo = authority.lastIndex(of: "@") { authority = authority[authority.index(after: userinfo)...] }
        var head = self
        let path = rest[pathStart...]
        head.target = path.first == "/" ? String(path) : "/" + path
        head.fields.replaceOrAdd(name: "host", value: String(authority))
        return head
    }

    /// The length of `http://` or `https://` (any case) at the start of an absolute-form target; nil for any other
    /// target. Other schemes are not HTTP's to route (RFC 9110 §4.2).
    static func httpSchemeLength(of target: String) -> Int? {
        let utf8 = target.utf8
        // Most targets are origin-form: one byte tells.
        guard let first = utf8.first, first | 0x20 == UInt8(ascii: "h") else { return nil }
        func starts(with scheme: StaticString) -> Bool {
            let bytes = UnsafeBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount)
            return utf8.count >= bytes.count && ASCII.equal(utf8.prefix(bytes.count), bytes, ignoringCase: true)
        }
        if starts(with: "http://") { return 7 }
        if starts(with: "https://") { return 8 }
        return nil
    }
}
