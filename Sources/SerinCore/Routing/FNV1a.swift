/// FNV-1a over bytes: a small, fixed hash (the same in every process, unlike Swift's seeded `Hasher`) for the
/// gateway's host index and sticky keys, computed from bytes in place.
public enum FNV1a {
    @inlinable
    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
