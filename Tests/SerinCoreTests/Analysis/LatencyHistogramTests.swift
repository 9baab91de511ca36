import Foundation
import SerinCore
import Testing

/// A version's durations as bucket counts: what it refuses, how it spreads a bucket's requests (log time, the first
/// bucket linear), and that its quantile is the inverse of that spread.
@Suite("Latency histogram")
struct LatencyHistogramTests {
    /// 4 requests up to 10 ms, 10 in (10, 100], 6 in (100, 1000], 2 beyond 1 s: 22 in all.
    static let histogram = LatencyHistogram(bounds: [10, 100, 1_000], counts: [4, 10, 6, 2])!

    @Test(
        "init refuses counts that do not fit the bounds, negative counts, and bounds that do not ascend or are not finite and ≥ 0",
        arguments: [
            ([10, 100], [1, 2]), ([10, 100], [1, 2, 3, 4]), ([10, 100], [1, -1, 3]), ([100, 10], [1, 2, 3]),
            ([10, 10], [1, 2, 3]), ([10, .infinity], [1, 2, 3]), ([.nan, 10], [1, 2, 3]), ([-1, 10], [1, 2, 3]),
        ] as [([Double], [Int])]
    )
    func initRefusesMalformedInput(bounds: [Double], counts: [Int]) {
        #expect(LatencyHistogram(bounds: bounds, counts: counts) == nil)
    }

    @Test("init keeps what fits: one more count than ascending bounds")
    func initAcceptsWellFormedInput() throws {
        let histogram = try #require(LatencyHistogram(bounds: [0, 10, 100], counts: [0, 1, 2, 3]))
        #expect(histogram.total == 6)
        #expect(LatencyHistogram(bounds: [], counts: [5])?.total == 5)
    }

    @Test("decoding refuses what init refuses, so a stored or received histogram cannot index past its counts")
    func decodingRefusesMalformedInput() throws {
        let decoder = JSONDecoder()
        let decoded = try decoder.decode(LatencyHistogram.self, from: JSONEncoder().encode(Self.histogram))
        #expect(decoded == Self.histogram)
        for malformed in [#"{"bounds":[10,100],"counts":[1,2]}"#, #"{"bounds":[100,10],"counts":[1,2,3]}"#, #"{"bounds":[10],"counts":[1,-2]}"#] {
            #expect(throws: DecodingError.self, "\(malformed)") { try decoder.decode(LatencyHistogram.self, from: Data(malformed.utf8)) }
        }
    }

    @Test("countAbove is exact at a bound: every request of the buckets above it, none of those at or below")
    func countAboveIsExactAtBounds() {
        #expect(Self.histogram.countAbove(0) == 22)
        #expect(Self.histogram.countAbove(10) == 18)
        #expect(Self.histogram.countAbove(100) == 8)
        #expect(Self.histogram.countAbove(1_000) == 2)
    }

    @Test("countAbove spreads a bucket's requests evenly in log time: half of (10, 100] lies above √1000")
    func countAboveInterpolatesInLogTime() {
        #expect(abs(Self.histogram.countAbove(1_000.0.squareRoot()) - (5 + 8)) < 1e-12)
        // log(100/20)/log(100/10) = log₁₀ 5 of the 10 requests, plus the 8 above 100 ms.
        #expect(abs(Self.histogram.countAbove(20) - 14.989700043360188) < 1e-12)
        // A quarter of the way through (100, 1000] in log time leaves three quarters of its 6.
        #expect(abs(Self.histogram.countAbove(100 * pow(10, 0.25)) - (4.5 + 2)) < 1e-12)
    }

    @Test("countAbove takes the first bucket linearly from 0")
    func countAboveFirstBucketIsLinear() {
        #expect(Self.histogram.countAbove(2.5) == 3 + 18)
        #expect(Self.histogram.countAbove(5) == 2 + 18)
    }

    @Test("countAbove counts the +Inf bucket whatever the duration, since how far beyond the last bound is unknown")
    func countAboveAlwaysCountsTheInfBucket() {
        for milliseconds in [1_000.0, 1_000.5, 5_000, 1e9, .infinity] {
            #expect(Self.histogram.countAbove(milliseconds) == 2, "\(milliseconds)")
        }
    }

    @Test("a bucket bounded at 0 ms holds requests that took no time, so none of them is above 0 ms")
    func countAboveAtAZeroBound() throws {
        let histogram = try #require(LatencyHistogram(bounds: [0, 10], counts: [3, 5, 1]))
        #expect(histogram.countAbove(0) == 6)
        #expect(histogram.countAbove(5) == 2.5 + 1)
    }

    @Test(
        "quantile inverts countAbove: countAbove(quantile(q)) is (1 − q) of the requests inside the buckets",
        arguments: [[4, 10, 6, 2], [4, 0, 6, 2], [0, 0, 7, 0], [1, 1, 1, 0]]
    )
    func quantileInvertsCountAbove(counts: [Int]) throws {
        let histogram = try #require(LatencyHistogram(bounds: [10, 100, 1_000], counts: counts))
        let total = Double(histogram.total)
        let finite = 1 - Double(counts[3]) / total
        for q in stride(from: 0.0, through: finite, by: 0.01) {
            let value = try #require(histogram.quantile(q))
            #expect(abs(histogram.countAbove(value) - (1 - q) * total) < 1e-9, "\(counts) q \(q): \(value)")
        }
    }

    @Test("quantile by hand: the median of 22 lies 0.7 of the way through (10, 100] in log time")
    func quantileByHand() throws {
        let median = try #require(Self.histogram.quantile(0.5))
        #expect(abs(median - 10 * pow(10, 0.7)) < 1e-9)
        #expect(Self.histogram.quantile(0) == 0)
        #expect(abs(try #require(Self.histogram.quantile(4.0 / 22)) - 10) < 1e-9)
    }

    @Test("quantile is nil with no requests")
    func quantileNilWhenEmpty() {
        #expect(LatencyHistogram(bounds: [10, 100], counts: [0, 0, 0])?.quantile(0.5) == nil)
    }

    @Test("quantile is the last bound when it lies in the +Inf bucket")
    func quantileInInfBucketIsLastBound() {
        #expect(Self.histogram.quantile(0.95) == 1_000)
        #expect(Self.histogram.quantile(1) == 1_000)
        #expect(LatencyHistogram(bounds: [10, 100], counts: [0, 0, 3])?.quantile(0.5) == 100)
    }

    @Test("adding sums the counts bucket by bucket over the same bounds")
    func addingSumsCounts() throws {
        let other = try #require(LatencyHistogram(bounds: [10, 100, 1_000], counts: [1, 0, 3, 5]))
        let sum = try #require(Self.histogram.adding(other))
        #expect(sum.bounds == [10, 100, 1_000])
        #expect(sum.counts == [5, 10, 9, 7])
        #expect(sum.total == Self.histogram.total + other.total)
    }

    @Test("adding refuses a histogram over other bounds")
    func addingRefusesOtherBounds() throws {
        let other = try #require(LatencyHistogram(bounds: [10, 100, 500], counts: [1, 0, 3, 5]))
        #expect(Self.histogram.adding(other) == nil)
        #expect(Self.histogram.adding(try #require(LatencyHistogram(bounds: [10, 100], counts: [1, 2, 3]))) == nil)
    }
}
