import Foundation
import SerinCore

/// A reproducible random source for fuzz tests (SplitMix64): the same seed gives the same cases, so a
/// failure reported with its seed can be replayed with `SERIN_FUZZ_SEED=<seed> swift test --filter ...`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var generator: SplitMix64

    public init(seed: UInt64) {
        self.seed = seed
        generator = SplitMix64(seed: seed)
    }

    /// The seed from `SERIN_FUZZ_SEED`, else `fallback` (fixed, so CI runs are repeatable).
    public static func fromEnvironment(fallback: UInt64) -> SeededRandom {
        SeededRandom(seed: ProcessInfo.processInfo.environment["SERIN_FUZZ_SEED"].flatMap(UInt64.init) ?? fallback)
    }

    /// The core's SplitMix64, which the gateway and `serin simulate` draw from too.
    public mutating func next() -> UInt64 { generator.next() }
}
