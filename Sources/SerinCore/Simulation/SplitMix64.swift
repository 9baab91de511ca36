/// SplitMix64: a small, fast, seedable generator, statistically sound for sampling and load balancing, not for
/// anything secret. One implementation for every place Serin draws numbers: the gateway's per-request choices,
/// `serin simulate`'s synthetic traffic, and the tests' reproducible inputs.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    @inlinable
    public init(seed: UInt64) { state = seed }

    /// Inlinable: the gateway draws on every request.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finaliser: every input bit moves about half the output bits, so near inputs land far apart
    /// (the generator's steps, and a sticky key's hash).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
