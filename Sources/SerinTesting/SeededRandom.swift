import Foundation

/// A reproducible random source for fuzz tests (SplitMix64): the same seed gives the same cases, so a
/// failure reported with its seed can be replayed with `SERIN_FUZZ_SEED=<seed> swift test --filter ...`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var state: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    /// The seed from `SERIN_FUZZ_SEED`, else `fallback` (fixed, so CI runs are repeatable).
    public static func fromEnvironment(fallback: UInt64) -> SeededRandom {
        SeededRandom(seed: ProcessInfo.processInfo.environment["SERIN_FUZZ_SEED"].flatMap(UInt64.init) ?? fallback)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
