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

    /// 32 hex digits, the shape of a UUID without dashes: enough for a request id. Every request without one gets
    /// one, so the digits are made eight at a time.
    mutating func writeRequestID(to out: inout HeadOutput) {
        let high = next()
        let low = next()
        out.append(length: 32) { bytes in
            bytes.storeBytes(of: Self.hexDigits(UInt32(truncatingIfNeeded: high >> 32)), toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: Self.hexDigits(UInt32(truncatingIfNeeded: high)), toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: Self.hexDigits(UInt32(truncatingIfNeeded: low >> 32)), toByteOffset: 16, as: UInt64.self)
            bytes.storeBytes(of: Self.hexDigits(UInt32(truncatingIfNeeded: low)), toByteOffset: 24, as: UInt64.self)
        }
    }

    /// `value`'s eight hex digits (lower-case), the first in the lowest byte: each nibble spread to a byte of its own,
    /// then `0` added to all and the distance from `9` to `a` to those of 10 and up, a word at a time.
    @inline(__always)
    static func hexDigits(_ value: UInt32) -> UInt64 {
        var spread = UInt64(value)
        spread = (spread | spread << 16) & 0x0000_FFFF_0000_FFFF
        spread = (spread | spread << 8) & 0x00FF_00FF_00FF_00FF
        spread = (spread | spread << 4) & 0x0F0F_0F0F_0F0F_0F0F
        let letters = ((spread &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        let digits = spread &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        // The highest nibble is in the highest byte: swapped, it is written first.
        return UInt64(littleEndian: digits.byteSwapped)
    }

    /// `writeRequestID`'s digits as a string.
    mutating func requestID() -> String {
        let high = String(next(), radix: 16)
        let low = String(next(), radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}
