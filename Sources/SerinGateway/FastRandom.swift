import NIOCore
import SerinCore

/// A small, fast generator for per-request choices (weighted split, request ids).
///
/// The core's SplitMix64: statistically sound for load balancing and far cheaper than a `getrandom`
/// call per request. Seeded once from the system generator; not for anything secret.
struct FastRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        generator = SplitMix64(seed: seed)
    }

    @inline(__always)
    mutating func next() -> UInt64 { generator.next() }

    /// 32 hex digits, the shape of a UUID without dashes: enough for a request id.
    mutating func writeRequestID(to out: inout HeadOutput) {
        let high = next()
        let low = next()
        out.append(length: 32) { bytes in
            for index in 0..<16 {
                bytes[index] = Self.hexDigit(high >> UInt64(60 - 4 * index))
                bytes[16 + index] = Self.hexDigit(low >> UInt64(60 - 4 * index))
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ value: UInt64) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0xF)
        return nibble < 10 ? nibble + UInt8(ascii: "0") : nibble - 10 + UInt8(ascii: "a")
    }

    /// `writeRequestID`'s digits as a string.
    mutating func requestID() -> String {
        let high = String(next(), radix: 16)
        let low = String(next(), radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}
