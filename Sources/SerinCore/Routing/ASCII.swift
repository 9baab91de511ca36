/// Byte-wise comparisons for routing: Envoy compares header values, paths and hosts as bytes, with
/// case folded for ASCII letters only. Working on UTF-8 views also spares a per-request `lowercased()` copy.
public enum ASCII {
    @inlinable @inline(__always)
    public static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }

    @inlinable
    public static func equal<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B, ignoringCase: Bool) -> Bool {
        guard a.count == b.count else { return false }
        return hasPrefix(a, b, ignoringCase: ignoringCase)
    }

    @inlinable
    public static func hasPrefix<A: Collection<UInt8>, B: Collection<UInt8>>(_ value: A, _ prefix: B, ignoringCase: Bool) -> Bool {
        // Native strings expose their bytes: compare buffers rather than stepping string indices.
        let contiguous = value.withContiguousStorageIfAvailable { valueBytes in
            prefix.withContiguousStorageIfAvailable { prefixBytes in
                hasPrefix(valueBytes, prefixBytes, ignoringCase: ignoringCase)
            }
        }
        if let answer = contiguous ?? nil { return answer }
        var index = value.startIndex
        for expected in prefix {
            guard index != value.endIndex else { return false }
            let byte = value[index]
            if ignoringCase ? lower(byte) != lower(expected) : byte != expected { return false }
            value.formIndex(after: &index)
        }
        return true
    }

    @inlinable
    public static func hasSuffix<A: Collection<UInt8>, B: Collection<UInt8>>(_ value: A, _ suffix: B, ignoringCase: Bool) -> Bool {
        let extra = value.count - suffix.count
        return extra >= 0 && hasPrefix(value.dropFirst(extra), suffix, ignoringCase: ignoringCase)
    }

    @inlinable
    public static func hasPrefix(_ value: UnsafeBufferPointer<UInt8>, _ prefix: UnsafeBufferPointer<UInt8>, ignoringCase: Bool) -> Bool {
        guard value.count >= prefix.count else { return false }
        for index in 0..<prefix.count {
            let byte = value[index]
            let expected = prefix[index]
            if ignoringCase ? lower(byte) != lower(expected) : byte != expected { return false }
        }
        return true
    }
}
