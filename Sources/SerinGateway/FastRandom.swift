import NIOCore

/// A small, fast generator for per-request choices (weighted split, request ids).
///
/// SplitMix64: statistically sound for load balancing and far cheaper than a `getrandom`
/// call per request. Seeded once from the system generator; not for anything secret.
struct FastRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 32 hex digits, the shape of a UUID without dashes: enough for a request id.
    mutating func writeRequestID(to buffer: inout ByteBuffer) {
        for _ in 0..<2 {
            let value = next()
            for shift in stride(from: 60, through: 0, by: -4) {
                buffer.writeInteger(Self.hexDigits[Int((value >> UInt64(shift)) & 0xF)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `writeRequestID`'s digits as a string.
    mutating func requestID() -> String {
        let high = String(next(), radix: 16)
        let low = String(next(), radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}
